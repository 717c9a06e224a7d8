-- Reports list an account's calls newest (or oldest) first in (started_ms, call_id) order, so
-- pages are stable and each is an index range from its cursor, however deep. A party or a DID
-- may have few calls or very many (a call centre, a busy number), so each has an index that
-- yields that same order: the planner takes it (more equality terms, no sort) rather than
-- walking the whole window, and a busy one still stops after one page. A masking's calls are
-- few; they are found by masking and sorted.
DROP INDEX calls_account_started;
CREATE INDEX calls_account_started ON calls (account_id, started_ms, call_id);
DROP INDEX calls_masking;
CREATE INDEX calls_account_masking ON calls (account_id, masking_id);
CREATE INDEX calls_account_caller ON calls (account_id, caller, started_ms, call_id);
CREATE INDEX calls_account_callee ON calls (account_id, callee, started_ms, call_id);
CREATE INDEX calls_account_mask ON calls (account_id, mask, started_ms, call_id);
-- Retention deletes by age across accounts.
CREATE INDEX calls_started ON calls (started_ms);
CREATE INDEX calls_unstarted ON calls (updated_ms) WHERE started_ms IS NULL;

-- Masking queries in (created_ms, masking_id) order. Every index here costs each set; a
-- party's or a number's maskings are found through maskings_pair_history (the lower party),
-- this one (the higher) and maskings_mask_m1/m2 (the number), then sorted.
CREATE INDEX maskings_account_created ON maskings (account_id, created_ms, masking_id);
CREATE INDEX maskings_account_hi ON maskings (account_id, pair_hi);
CREATE INDEX maskings_account_event ON maskings (account_id, event_id, created_ms, masking_id);
CREATE INDEX maskings_ended ON maskings (ended_ms) WHERE ended_ms IS NOT NULL;
