-- 007_idempotency: the publishers' Idempotency-Key (DESIGN section 5). The
-- first POST /v1/leads of a key claims it with its lead id (INSERT ... ON
-- CONFLICT DO NOTHING, so one of many concurrent requests wins) and stores
-- its answer (the 200 body) once sent; a later request of the same key
-- within 24 h answers that again and never enters the pipeline. A claim
-- whose request was not answered 200 is deleted, so the key can be used
-- again; a row older than 24 h is taken over by the next request, and
-- intake deletes such rows every minute (hence the index on created_at).
CREATE TABLE idempotency_keys (
    publisher_id    int NOT NULL,
    key             text NOT NULL,
    lead_id         text NOT NULL,
    answer          text,                       -- NULL while the first request is in flight
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (publisher_id, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);
-- Keys are the publishers' own request ids: analysts have no use for them.
REVOKE ALL ON idempotency_keys FROM pingpost_analyst;
