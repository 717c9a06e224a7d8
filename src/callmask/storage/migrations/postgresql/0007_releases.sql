-- When a party last let go of a pool number (its masking on it ended or lapsed): a new
-- masking avoids numbers its parties released within the last hour, so nobody who calls back
-- a number they just used reaches a stranger. Written by a trigger whenever a claim goes, so
-- every way a masking ends (unset, lapse, sweep, pool removal) records it. A claim of a
-- masking ended early was already given the end as its masking's expiry.
CREATE TABLE releases (
    party       TEXT COLLATE "C" NOT NULL,
    released_ms BIGINT NOT NULL,
    mask        TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (party, released_ms, mask)
);
-- The sweeper forgets releases older than the window.
CREATE INDEX releases_age ON releases (released_ms);

CREATE FUNCTION claims_released() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO releases (party, released_ms, mask)
    VALUES (
        OLD.party,
        LEAST(OLD.expires_ms, coalesce(
            (SELECT expires_ms FROM maskings WHERE masking_id = OLD.masking_id), OLD.expires_ms)),
        OLD.mask
    )
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER claims_released AFTER DELETE ON claims
    FOR EACH ROW EXECUTE FUNCTION claims_released();
