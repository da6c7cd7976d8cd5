-- Schema version 1: sightings and delistings.
--
-- Applied by rusqlite_migration, which records the schema version in
-- PRAGMA user_version. Never edit a migration that has shipped: add a new
-- NN-name/up.sql directory instead.

-- One row per detected message. Rows are only inserted and later deleted by
-- expiry, never updated.
CREATE TABLE sightings (
    -- Row id, increasing in insertion order.
    id            INTEGER PRIMARY KEY,
    -- When the message was seen, in Unix seconds (UTC).
    seen_at       INTEGER NOT NULL,
    -- The origin: the host that injected the message, in canonical text
    -- form (an IPv4-mapped IPv6 address is stored as IPv4).
    origin_ip     TEXT    NOT NULL,
    -- How the origin was found: 'connect' (the SMTP client itself),
    -- 'received' (a Received header written by a trusted relay) or
    -- 'bounce' (the original embedded in a bounce, reported by a third party).
    origin_method TEXT    NOT NULL,
    -- Worm family named by the matching rule's metadata, e.g. 'Sober'.
    family        TEXT    NOT NULL,
    -- Variant within the family, e.g. 'P', if the rule names one.
    variant       TEXT,
    -- Name of the YARA rule that matched.
    rule          TEXT    NOT NULL,
    -- Confidence of the match as named by the rule, e.g. 'high'.
    confidence    TEXT    NOT NULL,
    -- MTA queue id (milter macro 'i'), if the MTA sent it.
    queue_id      TEXT,
    -- Message-ID header value, if present.
    message_id    TEXT,
    -- IP address of the SMTP client that delivered the message to us.
    client_ip     TEXT,
    -- HELO/EHLO name the SMTP client gave.
    helo          TEXT,
    -- Envelope sender (MAIL FROM), without angle brackets.
    envelope_from TEXT,
    -- Message size in bytes as received, up to the scan limit.
    size          INTEGER NOT NULL,
    -- The message's header block as received, kept for abuse reports.
    headers       TEXT,
    -- Evidence as JSON text: each match with its scan object, and anomalies.
    evidence      TEXT    NOT NULL
) STRICT;

-- Listings group sightings by origin.
CREATE INDEX sightings_origin_ip ON sightings (origin_ip);
-- Time windows and expiry select by time.
CREATE INDEX sightings_seen_at ON sightings (seen_at);

-- Addresses removed from the exported list on request, for example after an
-- infected host was cleaned. Not used by version 1 code yet.
CREATE TABLE delistings (
    -- The delisted address, in the same text form as sightings.origin_ip.
    ip          TEXT    NOT NULL,
    -- When the delisting was made, in Unix seconds (UTC).
    delisted_at INTEGER NOT NULL,
    -- Free text: who asked and why.
    reason      TEXT
) STRICT;

CREATE INDEX delistings_ip ON delistings (ip);
