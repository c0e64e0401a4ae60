-- Messages, events and sessions. Timestamps are RFC 3339 UTC text with microseconds, so
-- text order is time order. `body` keeps the full wire JSON of the message or event.
CREATE TABLE messages (
    id            TEXT PRIMARY KEY,
    channel       TEXT NOT NULL,
    transport     TEXT NOT NULL,
    direction     TEXT NOT NULL,
    from_addr     TEXT NOT NULL,
    to_addr       TEXT NOT NULL,
    content       TEXT NOT NULL,
    session_id    TEXT,
    session_event TEXT,
    in_reply_to   TEXT,
    created_at    TEXT NOT NULL,
    body          TEXT NOT NULL
);
CREATE INDEX messages_session ON messages (session_id, created_at);
CREATE INDEX messages_from ON messages (from_addr, created_at);
CREATE INDEX messages_to ON messages (to_addr, created_at);

CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    message_id TEXT NOT NULL,
    channel    TEXT NOT NULL,
    kind       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX events_message ON events (message_id, created_at);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    channel     TEXT NOT NULL,
    msisdn      TEXT NOT NULL,
    flow        TEXT,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    hops        INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    slices      INTEGER NOT NULL,
    end_reason  TEXT
);
CREATE INDEX sessions_started ON sessions (started_at);
