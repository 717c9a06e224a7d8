-- Token rotation with a grace period: the token a rotation replaced keeps working until
-- previous_until_ms. Unique like token_hash: a bearer token alone finds its user.
ALTER TABLE users ADD COLUMN previous_token_hash TEXT;
ALTER TABLE users ADD COLUMN previous_until_ms BIGINT;
CREATE UNIQUE INDEX users_previous_token ON users (previous_token_hash);
-- `callmask ssid list/revoke --user` find a user's sessions without walking them all.
CREATE INDEX sessions_user ON sessions (user_id, expires_ms);
