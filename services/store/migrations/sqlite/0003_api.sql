-- The API's side: message status, the outbox, idempotency keys, API tokens, webhook jobs.
ALTER TABLE messages ADD COLUMN status TEXT NOT NULL DEFAULT 'queued';
UPDATE messages SET status = 'received' WHERE direction = 'inbound';
-- UUIDv7 text sorts by time: (x, id) indexes serve "newest first" pages.
CREATE INDEX messages_channel_id ON messages (channel, id);
CREATE INDEX messages_status_id ON messages (status, id);
CREATE INDEX sessions_channel_started ON sessions (channel, started_at);

-- Messages accepted through the API and not yet on the bus.
CREATE TABLE outbox (
    message_id    TEXT PRIMARY KEY,
    body          TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    claimed_until TEXT NOT NULL DEFAULT ''
);

CREATE TABLE idempotency_keys (
    scope       TEXT NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    message_id  TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE webhook_jobs (
    id              TEXT PRIMARY KEY,
    channel         TEXT NOT NULL,
    kind            TEXT NOT NULL,
    source_id       TEXT NOT NULL,
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until   TEXT NOT NULL DEFAULT '',
    state           TEXT NOT NULL,
    last_error      TEXT,
    UNIQUE (source_id, url)
);
CREATE INDEX webhook_jobs_due ON webhook_jobs (state, next_attempt_at);
