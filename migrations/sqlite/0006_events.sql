-- Events pushed by the platform (live monitoring). `seq` orders them as received;
-- `event_id` is the platform's id and makes ingest idempotent: a batch sent twice
-- (at-least-once delivery) stores each event once. An event is committed here
-- before its batch is acknowledged.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    case_id TEXT NOT NULL,
    activity TEXT NOT NULL,
    timestamp TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    attrs TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at BIGINT NOT NULL
);

CREATE INDEX events_case ON events (case_id, at_us);

-- Pull sources (a table of the platform's database followed by a cursor): the last
-- position stored, committed in the same transaction as the events it covers.
CREATE TABLE event_cursors (
    name TEXT PRIMARY KEY,
    position BIGINT NOT NULL
);
