-- Whether calls on the masking are recorded, as its set asked (1 or 0); NULL when the set did
-- not say, so the account's default applies, read at each route lookup.
ALTER TABLE maskings ADD COLUMN record INTEGER CHECK (record IN (0, 1));
-- The account's default for maskings that do not say (`callmask account set --record`);
-- NULL: not recorded.
ALTER TABLE account_rules ADD COLUMN record INTEGER CHECK (record IN (0, 1));

-- One row per call the proxy was asked to record. 'recording' from the answer until the call
-- ends and its audio is written; then 'ready' (file, duration and size set) or 'failed';
-- 'skipped' when the consent prompt could not be played, so nothing was recorded. reason
-- says why for the last two. file is relative to CALLMASK_RECORDINGS_DIR. The account is the
-- call's (calls.account_id): a recording is served only to it.
CREATE TABLE recordings (
    call_id      TEXT PRIMARY KEY,
    recording_id TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL CHECK (status IN ('recording', 'ready', 'failed', 'skipped')),
    reason       TEXT,
    file         TEXT,
    duration_ms  INTEGER,
    size         INTEGER,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
CREATE INDEX recordings_created ON recordings (created_ms);
