-- The 1505s each account answered, counted per hour: the console's pressure chart marks them
-- and its overview counts those of the last 24 hours. One row per account and hour, so a
-- burst of refusals adds to one row; retention deletes the hours past the retention period.
CREATE TABLE refusals (
    account_id TEXT NOT NULL,
    hour_ms    INTEGER NOT NULL,
    count      INTEGER NOT NULL,
    PRIMARY KEY (account_id, hour_ms)
);
CREATE INDEX refusals_hour ON refusals (hour_ms);
