-- The flow runner: campaign subscriptions (one active per contact and set) and SMS
-- conversations waiting for an answer.
CREATE TABLE subscriptions (
    id            TEXT PRIMARY KEY,
    key           TEXT NOT NULL,
    msisdn        TEXT NOT NULL,
    set_name      TEXT NOT NULL,
    next_index    INTEGER NOT NULL,
    next_due      TEXT NOT NULL,
    state         TEXT NOT NULL,
    claimed_until TEXT NOT NULL DEFAULT '',
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
CREATE UNIQUE INDEX subscriptions_active ON subscriptions (key, set_name) WHERE state = 'active';
CREATE INDEX subscriptions_due ON subscriptions (state, next_due);
CREATE INDEX subscriptions_key ON subscriptions (key);

CREATE TABLE flow_runs (
    key        TEXT PRIMARY KEY,
    body       TEXT NOT NULL,
    wait_until TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX flow_runs_wait ON flow_runs (wait_until);
