-- One row per call, merged from the SIP proxy's events (start, answer, end, failed), which may
-- arrive in any order and more than once: every column but outcome, sip_status and updated_ms
-- is written once, by whichever event knows it first. No foreign key to maskings: an event is
-- stored as it comes, even before (or without) the row its maskingId names.
CREATE TABLE calls (
    call_id     TEXT PRIMARY KEY,
    account_id  TEXT,
    masking_id  TEXT,
    event_id    TEXT,
    mask        TEXT,
    caller      TEXT,
    callee      TEXT,
    started_ms  INTEGER,
    answered_ms INTEGER,
    ended_ms    INTEGER,
    duration_s  INTEGER,
    sip_status  INTEGER,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ringing', 'answered', 'completed', 'failed')),
    updated_ms  INTEGER NOT NULL
);
-- Call reports list an account's calls by start time, or the calls of one masking.
CREATE INDEX calls_account_started ON calls (account_id, started_ms);
CREATE INDEX calls_masking ON calls (masking_id);
