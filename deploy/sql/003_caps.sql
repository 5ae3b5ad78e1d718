-- 003_caps: cap counters, reserved atomically before a post and released when
-- the post fails, so concurrent leads through any number of deliver
-- instances never overshoot a cap. Periods are counted in the campaign's
-- time zone (schedule.time_zone, else UTC): an hour, day, week (from Monday)
-- or month starts at local midnight of that zone; 'total' never resets.
CREATE TABLE cap_counters (
    campaign_id     int NOT NULL,
    per             text NOT NULL CHECK (per IN ('hour', 'day', 'week', 'month', 'total')),
    period_start    timestamptz NOT NULL,
    count           bigint NOT NULL DEFAULT 0 CHECK (count >= 0),
    amount_cents    bigint NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
    PRIMARY KEY (campaign_id, per, period_start)
);
GRANT SELECT ON cap_counters TO pingpost_analyst;

-- The start of the period `per` holding the instant `at` in zone `tz`.
CREATE FUNCTION pp_period_start (per text, at timestamptz, tz text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT CASE per WHEN 'total' THEN '-infinity'::timestamptz
                    ELSE date_trunc (per, at AT TIME ZONE tz) AT TIME ZONE tz END
$$;

-- Reserve one lead of `price` cents against every cap of a campaign at once:
-- for each period i, count + 1 must stay within max_count[i] and amount +
-- price within max_amount[i] (0 = no limit of that kind). All or nothing:
-- returns false, changing nothing, when any cap would overshoot.
CREATE FUNCTION pp_cap_reserve (campaign int, price bigint, at timestamptz, tz text,
                                pers text[], max_count bigint[], max_amount bigint[])
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    start timestamptz;
BEGIN
    FOR i IN 1 .. coalesce (array_length (pers, 1), 0) LOOP
        start := pp_period_start (pers[i], at, tz);
        INSERT INTO cap_counters (campaign_id, per, period_start)
        VALUES (campaign, pers[i], start) ON CONFLICT DO NOTHING;
        UPDATE cap_counters SET count = count + 1, amount_cents = amount_cents + price
        WHERE campaign_id = campaign AND per = pers[i] AND period_start = start
          AND (max_count[i] = 0 OR count + 1 <= max_count[i])
          AND (max_amount[i] = 0 OR amount_cents + price <= max_amount[i]);
        IF NOT FOUND THEN
            RAISE EXCEPTION USING ERRCODE = 'P0001', MESSAGE = 'cap full';
        END IF;
    END LOOP;
    RETURN true;
EXCEPTION WHEN SQLSTATE 'P0001' THEN
    RETURN false;       -- the block's updates are rolled back
END
$$;

-- Give back what pp_cap_reserve took at `at` (the post failed).
CREATE FUNCTION pp_cap_release (campaign int, price bigint, at timestamptz, tz text,
                                pers text[])
RETURNS void LANGUAGE sql AS $$
    UPDATE cap_counters c SET count = greatest (c.count - 1, 0),
                              amount_cents = greatest (c.amount_cents - price, 0)
    FROM unnest (pers) AS p (per)
    WHERE c.campaign_id = campaign AND c.per = p.per
      AND c.period_start = pp_period_start (p.per, at, tz)
$$;
