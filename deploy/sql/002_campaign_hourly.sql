-- 002_campaign_hourly: per-campaign post outcomes by hour, kept by the ledger
-- as it commits events, so the auction can rank ties by post-acceptance rate
-- without scanning the events table.
CREATE TABLE campaign_hourly (
    campaign_id     int NOT NULL,
    hour            timestamptz NOT NULL,
    posts           bigint NOT NULL DEFAULT 0,     -- posts answered (accepted, rejected or failed)
    accepted        bigint NOT NULL DEFAULT 0,     -- of which accepted
    PRIMARY KEY (campaign_id, hour)
);
GRANT SELECT ON campaign_hourly TO pingpost_analyst;
