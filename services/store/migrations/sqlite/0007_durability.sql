-- Durability: the in-process bus's journal, carriers' ids for our messages, held receipts.

-- A row per message per queue of the in-process bus, from its publish to its ack.
CREATE TABLE bus_journal (
    id          INTEGER PRIMARY KEY,
    queue       TEXT NOT NULL,
    routing_key TEXT NOT NULL,
    payload     TEXT NOT NULL
);

-- What a carrier calls our message (every normalised form); the newest claims a reused id.
CREATE TABLE carrier_ids (
    channel    TEXT NOT NULL,
    carrier_id TEXT NOT NULL,
    message_id TEXT NOT NULL,
    at         TEXT NOT NULL,
    PRIMARY KEY (channel, carrier_id, message_id)
);
CREATE INDEX carrier_ids_newest ON carrier_ids (channel, carrier_id, at);
CREATE INDEX carrier_ids_message ON carrier_ids (message_id);
CREATE INDEX carrier_ids_at ON carrier_ids (at);

-- Receipts no recorded submit has claimed yet.
CREATE TABLE held_receipts (
    channel     TEXT NOT NULL,
    carrier_id  TEXT NOT NULL,
    status      TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (channel, carrier_id, status)
);
CREATE INDEX held_receipts_received ON held_receipts (received_at);
