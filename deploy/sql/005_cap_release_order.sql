-- 005_cap_release_order: release caps period by period in the order
-- pp_cap_reserve takes them (the caller's array order), so a release and a
-- concurrent reservation of the same campaign lock the counter rows in the
-- same order and cannot deadlock (003's single UPDATE ... FROM unnest locked
-- them in an unspecified order).
CREATE OR REPLACE FUNCTION pp_cap_release (campaign int, price bigint, at timestamptz, tz text,
                                           pers text[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    FOR i IN 1 .. coalesce (array_length (pers, 1), 0) LOOP
        UPDATE cap_counters SET count = greatest (count - 1, 0),
                                amount_cents = greatest (amount_cents - price, 0)
        WHERE campaign_id = campaign AND per = pers[i]
          AND period_start = pp_period_start (pers[i], at, tz);
    END LOOP;
END
$$;
