-- Seconds a call on the masking may last (0: no limit), as its set gave it; NULL when the set
-- gave none, so the account's default (else the global one) applies, read at each route
-- lookup: a changed default reaches live maskings too.
ALTER TABLE maskings ADD COLUMN call_time_limit INTEGER;

-- Rules an account set for its calls (`callmask account set`); a row only once it set one,
-- and NULL where it keeps the global default. Read with the route lookup by its key (one
-- probe of the key's tree, hence WITHOUT ROWID).
CREATE TABLE account_rules (
    account_id      TEXT PRIMARY KEY,
    call_time_limit INTEGER CHECK (call_time_limit BETWEEN 0 AND 86400),
    updated_ms      INTEGER NOT NULL
) WITHOUT ROWID;

-- Why the call ended, when the proxy says: 'limit' (its time limit ran out); else NULL.
ALTER TABLE calls ADD COLUMN ended_by TEXT;
