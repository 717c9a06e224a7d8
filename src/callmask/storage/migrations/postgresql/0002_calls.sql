-- One row per call, merged from the SIP proxy's events (start, answer, end, failed), which may
-- arrive in any order and more than once: every column but outcome, sip_status and updated_ms
-- is written once, by whichever event knows it first. No foreign key to maskings: an event is
-- stored as it comes, even before (or without) the row its maskingId names.
CREATE TABLE calls (
    call_id     TEXT PRIMARY KEY,
    account_id  TEXT,
    masking_id  TEXT,
    event_id    TEXT,
    mask        TEXT COLLATE "C",
    caller      TEXT COLLATE "C",
    callee      TEXT COLLATE "C",
    started_ms  BIGINT,
    answered_ms BIGINT,
    ended_ms    BIGINT,
    duration_s  INTEGER,
    sip_status  INTEGER,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ringing', 'answered', 'completed', 'failed')),
    updated_ms  BIGINT NOT NULL
);
-- Call reports list an account's calls by start time, or the calls of one masking.
CREATE INDEX calls_account_started ON calls (account_id, started_ms);
CREATE INDEX calls_masking ON calls (masking_id);
