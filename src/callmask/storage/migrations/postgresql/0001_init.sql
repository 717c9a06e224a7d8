CREATE TABLE users (
    user_id     TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    role        TEXT NOT NULL CHECK (role IN ('client', 'router')),
    token_hash  TEXT NOT NULL,
    created_ms  BIGINT NOT NULL
);
-- The SIP proxy presents only a bearer token; tokens are random, so their hash is a fine key.
CREATE UNIQUE INDEX users_token ON users (token_hash);

CREATE TABLE sessions (
    ssid_hash   TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    expires_ms  BIGINT NOT NULL
);

-- Numbers compare byte-wise (COLLATE "C") as in SQLite and Python, so "lowest free number"
-- and the pair order mean the same on every backend.
CREATE TABLE pool_numbers (
    number      TEXT COLLATE "C" PRIMARY KEY,
    account_id  TEXT NOT NULL,
    added_ms    BIGINT NOT NULL
);
-- First fit walks an account's pool in number order.
CREATE INDEX pool_numbers_account ON pool_numbers (account_id, number);

CREATE TABLE maskings (
    masking_id  TEXT PRIMARY KEY,
    account_id  TEXT NOT NULL,
    m1          TEXT COLLATE "C" NOT NULL,
    m2          TEXT COLLATE "C" NOT NULL,
    pair_lo     TEXT COLLATE "C" NOT NULL,
    pair_hi     TEXT COLLATE "C" NOT NULL,
    mask        TEXT COLLATE "C" NOT NULL,
    event_id    TEXT,
    created_ms  BIGINT NOT NULL,
    expires_ms  BIGINT NOT NULL,
    ended_ms    BIGINT,
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
-- routed by who is calling. Enforced here, not only in Python, so concurrent writers on any
-- host cannot break it: the loser of a race gets a unique violation and allocates again.
CREATE TABLE claims (
    mask        TEXT COLLATE "C" NOT NULL,
    party       TEXT COLLATE "C" NOT NULL,
    masking_id  TEXT NOT NULL REFERENCES maskings (masking_id),
    expires_ms  BIGINT NOT NULL,
    PRIMARY KEY (mask, party)
);
CREATE INDEX claims_party ON claims (party, mask);
CREATE INDEX claims_expiry ON claims (expires_ms);
CREATE INDEX claims_masking ON claims (masking_id);
