-- Contacts (the whole contact as JSON in `body`; groups also as rows, for lookups) and channels
-- created or restarted through the API.
CREATE TABLE contacts (
    msisdn     TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    opted_out  INTEGER NOT NULL,
    version    INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE contact_groups (
    grp    TEXT NOT NULL,
    msisdn TEXT NOT NULL REFERENCES contacts (msisdn) ON DELETE CASCADE,
    PRIMARY KEY (grp, msisdn)
);
CREATE INDEX contact_groups_msisdn ON contact_groups (msisdn);

CREATE TABLE channels (
    name       TEXT PRIMARY KEY,
    definition TEXT,
    generation INTEGER NOT NULL,
    updated_at TEXT NOT NULL
);
