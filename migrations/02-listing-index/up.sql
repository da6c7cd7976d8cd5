-- Schema version 2: a covering index for the listing query.
--
-- Listings group sightings by origin_ip and read only the columns below, so
-- SQLite can answer from this index alone, already in origin_ip order,
-- instead of sorting every row of the table on each export.
CREATE INDEX sightings_listing
    ON sightings (origin_ip, seen_at, origin_method, family, variant, confidence);

-- The new index starts with origin_ip, so it serves every lookup the old
-- one did.
DROP INDEX sightings_origin_ip;
