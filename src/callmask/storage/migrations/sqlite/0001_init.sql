CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('client', 'router')),
    token_hash  TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);
-- The SIP proxy presents only a bearer token; tokens are random, so their hash is a fine key.
CREATE UNIQUE INDEX users_token ON users (token_hash);

CREATE TABLE sessions (
    ssid_hash   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    expires_ms  INTEGER NOT NULL
);

CREATE TABLE pool_numbers (
    number      TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    added_ms    INTEGER NOT NULL
);
-- First fit walks an account's pool in number order.
CREATE INDEX pool_numbers_account ON pool_numbers (account_id, number);

CREATE TABLE maskings (
    masking_id  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    m1          TEXT NOT NULL,
    m2          TEXT NOT NULL,
    pair_lo     TEXT NOT NULL,
    pair_hi     TEXT NOT NULL,
    mask        TEXT NOT NULL,
    event_id    TEXT,
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    ended_ms    INTEGER,
    end_reason  TEXT,
    CHECK (pair_lo < pair_hi)
);
-- One open masking per pair per account, held by the database so no two writers can both
-- create one; a lapsed masking is closed (ended_ms set) in the same transaction before a new one.
CREATE UNIQUE INDEX maskings_open_pair ON maskings (account_id, pair_lo, pair_hi)
    WHERE ended_ms IS NULL;
CREATE INDEX maskings_pair_history ON maskings (account_id, pair_lo, pair_hi, created_ms);
CREATE INDEX maskings_mask_history ON maskings (mask, created_ms);
CREATE INDEX maskings_open_expiry ON maskings (expires_ms) WHERE ended_ms IS NULL;

-- A claim says "party uses mask until expires_ms". The primary key is the invariant:
-- no pool number carries two live maskings that share a party, or a call to it could not be
-- routed by who is calling. Enforced here, not only in Python, so concurrent writers cannot
-- break it. Lapsed claims are deleted before a party's next allocation and by the sweeper.
CREATE TABLE claims (
    mask        TEXT NOT NULL,
    party       TEXT NOT NULL,
    masking_id  TEXT NOT NULL REFERENCES maskings (masking_id),
    expires_ms  INTEGER NOT NULL,
    PRIMARY KEY (mask, party)
) WITHOUT ROWID;
CREATE INDEX claims_party ON claims (party, mask);
CREATE INDEX claims_expiry ON claims (expires_ms);
CREATE INDEX claims_masking ON claims (masking_id);
