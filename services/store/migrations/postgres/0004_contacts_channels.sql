-- Contacts (the whole contact as JSON in `body`; groups also as rows, for lookups) and channels
-- created or restarted through the API.
CREATE TABLE contacts (
    msisdn     TEXT PRIMARY KEY,
    body       JSONB NOT NULL,
    opted_out  BOOLEAN NOT NULL,
    version    BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE contact_groups (
    grp    TEXT NOT NULL,
    msisdn TEXT NOT NULL REFERENCES contacts (msisdn) ON DELETE CASCADE,
    PRIMARY KEY (grp, msisdn)
);
CREATE INDEX contact_groups_msisdn ON contact_groups (msisdn);

CREATE TABLE channels (
    name       TEXT PRIMARY KEY,
    definition JSONB,
    generation BIGINT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
