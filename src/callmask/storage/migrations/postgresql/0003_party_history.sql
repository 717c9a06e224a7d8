-- A caller's history on one number, for telling "expired" from "never had one" when a call
-- is rejected; the (mask, created_ms) index made that a walk over the number's whole history.
DROP INDEX maskings_mask_history;
CREATE INDEX maskings_mask_m1 ON maskings (mask, m1, created_ms);
CREATE INDEX maskings_mask_m2 ON maskings (mask, m2, created_ms);
