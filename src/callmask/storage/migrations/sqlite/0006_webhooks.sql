-- One callback per account. The secret signs deliveries, so it is kept as is (not hashed).
CREATE TABLE webhooks (
    account_id  TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    secret      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

-- The outbox: each notice is written in the transaction of the change it describes, so a
-- crash between that commit and the delivery loses nothing. A delivering process leases a
-- notice by moving next_attempt_ms past its attempt; if it dies, the lease runs out and the
-- notice is due again (at-least-once; receivers deduplicate by event_id).
CREATE TABLE webhook_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT NOT NULL UNIQUE,
    account_id      TEXT NOT NULL,
    kind            TEXT NOT NULL,
    -- Set for what happens once only (a masking created or ended, a call's steps): the unique
    -- key makes a change noticed twice (two sweepers, a replayed call event) one notice.
    dedup_key       TEXT UNIQUE,
    body            TEXT NOT NULL,
    created_ms      INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_ms INTEGER NOT NULL,
    delivered_ms    INTEGER
);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_ms, seq) WHERE status = 'pending';
CREATE INDEX webhook_events_account ON webhook_events (account_id, status);
CREATE INDEX webhook_events_created ON webhook_events (created_ms);

-- The delivery log: one row per attempt.
CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL,
    account_id    TEXT NOT NULL,
    kind          TEXT NOT NULL,
    attempt       INTEGER NOT NULL,
    attempted_ms  INTEGER NOT NULL,
    url           TEXT NOT NULL,
    http_status   INTEGER,
    error         TEXT,
    duration_ms   INTEGER NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('delivered', 'retry', 'failed'))
);
CREATE INDEX webhook_deliveries_account ON webhook_deliveries (account_id, attempted_ms, id);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_attempted ON webhook_deliveries (attempted_ms);
