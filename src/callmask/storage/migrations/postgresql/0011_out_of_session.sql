-- What an account does with a caller who has no live masking on the number called: reject
-- with reject_code (403, what callmask always answered; 404; or 480), or forward the call to
-- forward_to, an E.164 number outside every pool (`callmask account set --out-of-session`).
ALTER TABLE account_rules ADD COLUMN out_of_session TEXT NOT NULL DEFAULT 'reject'
    CHECK (out_of_session IN ('reject', 'forward'));
ALTER TABLE account_rules ADD COLUMN forward_to TEXT COLLATE "C";
ALTER TABLE account_rules ADD COLUMN reject_code INTEGER NOT NULL DEFAULT 403
    CHECK (reject_code IN (403, 404, 480));

-- How the proxy handled the call, from its start event: 'connect' (a masked call) or
-- 'forward' (an out-of-session call sent to the account's fallback number, with no masking).
-- NULL for calls recorded before the proxy said, which were all masked.
ALTER TABLE calls ADD COLUMN action TEXT;
