-- What each user may do, comma-separated (LIST_CALL_LOG,LIST_MASKING,...). Routers route calls
-- by their role and hold none. Clients made before permissions existed keep set and unset and
-- get the read-only masking and webhook views; the call log is granted on purpose.
ALTER TABLE users ADD COLUMN permissions TEXT NOT NULL DEFAULT '';
UPDATE users SET permissions = 'LIST_MASKING,LIST_WEBHOOK_LOG,SET_MASKING' WHERE role = 'client';
