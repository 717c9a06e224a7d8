-- When a party last let go of a pool number (its masking on it ended or lapsed): a new
-- masking avoids numbers its parties released within the last hour, so nobody who calls back
-- a number they just used reaches a stranger. Written by a trigger whenever a claim goes, so
-- every way a masking ends (unset, lapse, sweep, pool removal) records it. A claim of a
-- masking ended early was already given the end as its masking's expiry.
CREATE TABLE releases (
    party       TEXT NOT NULL,
    released_ms INTEGER NOT NULL,
    mask        TEXT NOT NULL,
    PRIMARY KEY (party, released_ms, mask)
) WITHOUT ROWID;
-- The sweeper forgets releases older than the window.
CREATE INDEX releases_age ON releases (released_ms);

CREATE TRIGGER claims_released AFTER DELETE ON claims
BEGIN
    INSERT OR IGNORE INTO releases (party, released_ms, mask)
    VALUES (
        OLD.party,
        min(OLD.expires_ms, coalesce(
            (SELECT expires_ms FROM maskings WHERE masking_id = OLD.masking_id), OLD.expires_ms)),
        OLD.mask
    );
END;
