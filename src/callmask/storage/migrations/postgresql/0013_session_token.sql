-- The token an ssid was made from: an ssid works only while that token does, so rotating a
-- token ends its ssids at once, or with its grace period. Sessions made before this migration
-- are taken as made from the token current now; NULL matches no token, so works nowhere.
ALTER TABLE sessions ADD COLUMN token_hash TEXT;
UPDATE sessions SET token_hash = (SELECT u.token_hash FROM users u WHERE u.user_id = sessions.user_id);
