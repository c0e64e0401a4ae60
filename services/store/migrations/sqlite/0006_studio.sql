-- The studio: staff accounts and their browser sessions (a hash of each cookie's secret), flow
-- file drafts (a revision per save), published versions (numbered per file, ordered across
-- files by `seq`), an audit row per change, and per-day counters of the arrows sessions took.
CREATE TABLE staff_users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    must_change   INTEGER NOT NULL,
    disabled      INTEGER NOT NULL,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);

CREATE TABLE staff_sessions (
    hash       TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES staff_users (id) ON DELETE CASCADE,
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX staff_sessions_user ON staff_sessions (user_id);
CREATE INDEX staff_sessions_expires ON staff_sessions (expires_at);

CREATE TABLE flow_drafts (
    file       TEXT PRIMARY KEY,
    text       TEXT NOT NULL,
    revision   INTEGER NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    layout     TEXT NOT NULL DEFAULT '{}'
);

CREATE TABLE flow_versions (
    file         TEXT NOT NULL,
    number       INTEGER NOT NULL,
    seq          INTEGER NOT NULL UNIQUE,
    text         TEXT NOT NULL,
    published_by TEXT NOT NULL,
    published_at TEXT NOT NULL,
    PRIMARY KEY (file, number)
);

-- The last `seq` given out: a publish takes this row's lock first and holds it until it
-- commits, so publishes commit in `seq` order (a poller that saw `seq` n has seen 1..n).
CREATE TABLE flow_seq (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO flow_seq (id, seq) VALUES (1, 0);

-- `id` orders the rows as they were written.
CREATE TABLE flow_audit (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    file     TEXT NOT NULL,
    action   TEXT NOT NULL,
    actor    TEXT NOT NULL,
    revision INTEGER,
    version  INTEGER,
    at       TEXT NOT NULL
);
CREATE INDEX flow_audit_file ON flow_audit (file, id);

-- `day` is `YYYY-MM-DD` (UTC); `from_node` is '' where sessions started, `to_node` '' where
-- they ended.
CREATE TABLE flow_stats (
    flow      TEXT NOT NULL,
    day       TEXT NOT NULL,
    from_node TEXT NOT NULL,
    to_node   TEXT NOT NULL,
    count     INTEGER NOT NULL,
    PRIMARY KEY (flow, day, from_node, to_node)
);

-- The drop-off view's session count and average slices per flow and period: the index
-- covers the query, so a million sessions are counted without reading their rows.
CREATE INDEX sessions_flow_started ON sessions (flow, started_at, slices);
