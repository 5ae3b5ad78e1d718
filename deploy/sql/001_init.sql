-- 001_init: marketplace config, the ledger, and the analyst role.
-- Money is bigint cents everywhere. Applied by `pingpost db migrate`, once.

-- ---------------------------------------------------------------- config
-- Every section of the marketplace file is stored whole as `spec` (jsonb),
-- keyed by name, so later stages can use parts the current code ignores.
CREATE TABLE auction_settings (
    id          int PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE verticals (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE publishers (
    id              serial PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    api_key_hash    text NOT NULL UNIQUE,      -- hex SHA-256 of the API key; the key itself is never stored
    spec            jsonb NOT NULL,            -- the publisher object without "api_key"
    updated_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE buyers (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    spec        jsonb NOT NULL,                -- the buyer object without "campaigns"
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE campaigns (
    id          serial PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    buyer_id    int NOT NULL REFERENCES buyers (id),
    vertical    text NOT NULL,
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Other top-level sections of the file (blacklist, ...), stored whole by key.
CREATE TABLE market_sections (
    name        text PRIMARY KEY,
    spec        jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------- ledger
CREATE TABLE leads (
    lead_id         text PRIMARY KEY,
    received_at     timestamptz NOT NULL,
    publisher_id    int,
    publisher       text NOT NULL DEFAULT '',
    source          text NOT NULL DEFAULT '',
    sub_id          text NOT NULL DEFAULT '',
    vertical        text NOT NULL DEFAULT '',
    test            boolean NOT NULL DEFAULT false,
    fields          jsonb,                     -- non-personal fields only
    consent         jsonb,
    status          text,                      -- sold|unsold|rejected|duplicate|error, NULL until answered
    price_cents     bigint NOT NULL DEFAULT 0, -- publisher payout
    charge_cents    bigint NOT NULL DEFAULT 0, -- what buyers were charged
    reasons         jsonb,
    answered_at     timestamptz,
    answer_us       bigint
);
CREATE INDEX leads_received_at ON leads (received_at);

-- Personal fields live apart so the analyst role can be denied them.
CREATE TABLE lead_pii (
    lead_id     text PRIMARY KEY,
    fields      jsonb NOT NULL
);

CREATE TABLE events (
    event_id        text PRIMARY KEY,
    lead_id         text NOT NULL,
    at              timestamptz NOT NULL,
    kind            text NOT NULL,
    stage           text NOT NULL,
    campaign_id     int,
    buyer_id        int,
    amount_cents    bigint,
    payout_cents    bigint,
    latency_us      bigint,
    code            text,
    detail          jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_lead ON events (lead_id, at);
CREATE INDEX events_at ON events (at);

-- The money of every sale: one row per buyer that bought the lead.
CREATE TABLE sales (
    event_id        text PRIMARY KEY,
    lead_id         text NOT NULL,
    at              timestamptz NOT NULL,
    publisher_id    int,
    campaign_id     int NOT NULL,
    buyer_id        int NOT NULL,
    charge_cents    bigint NOT NULL CHECK (charge_cents >= 0),
    payout_cents    bigint NOT NULL CHECK (payout_cents >= 0),
    margin_cents    bigint NOT NULL,
    CHECK (charge_cents = payout_cents + margin_cents)
);
CREATE INDEX sales_lead ON sales (lead_id);
CREATE INDEX sales_at ON sales (at);

-- Duplicate fingerprints: insert-if-absent makes dedupe exact across instances.
CREATE TABLE dedupe (
    vertical        text NOT NULL,
    fingerprint     text NOT NULL,
    lead_id         text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (vertical, fingerprint)
);

-- ---------------------------------------------------------------- analysts
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pingpost_analyst') THEN
        CREATE ROLE pingpost_analyst NOLOGIN;
    END IF;
END
$$;
GRANT SELECT ON auction_settings, verticals, buyers, campaigns, market_sections,
                leads, events, sales TO pingpost_analyst;
GRANT SELECT (id, name, spec, updated_at) ON publishers TO pingpost_analyst;
REVOKE ALL ON lead_pii, dedupe FROM pingpost_analyst;
