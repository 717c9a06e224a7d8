-- A party's claims by expiry: the pool walk's exclusions (live claims of each party) and the
-- drop of lapsed claims at every set read a range of this index alone. On (party, mask) each
-- claim of the party cost a read of the table row for its expiry (~2 us a claim on SQLite,
-- 20 ms a set for a hub holding 9,000 maskings: docs/scale.md).
DROP INDEX claims_party;
CREATE INDEX claims_party ON claims (party, expires_ms, mask);
