-- 006_period_start_fold: when a period starts at a local time that happens
-- twice (clocks going back), 003's pp_period_start took the later instant,
-- which can lie after the instant asked about. Take the earlier one: the
-- period then always holds its instant. Counting was consistent before (one
-- counter per period either way); only the stored period_start was wrong.
CREATE OR REPLACE FUNCTION pp_period_start (per text, at timestamptz, tz text)
RETURNS timestamptz LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN per = 'total' THEN '-infinity'::timestamptz
        WHEN ((s - interval '1 hour') AT TIME ZONE tz) = l THEN s - interval '1 hour'
        WHEN ((s - interval '30 minutes') AT TIME ZONE tz) = l THEN s - interval '30 minutes'
        ELSE s END
    FROM (SELECT date_trunc (per, at AT TIME ZONE tz) AS l) AS local_start,
         LATERAL (SELECT l AT TIME ZONE tz AS s) AS utc_start
$$;
