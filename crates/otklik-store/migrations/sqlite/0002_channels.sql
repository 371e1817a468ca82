-- Channels: the outbox's retry schedule and leases, rejected deliveries kept for inspection,
-- and polling cursors.

ALTER TABLE publications ADD COLUMN message_id INTEGER;
ALTER TABLE publications ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
-- A worker that claimed the entry owns it until then; a crashed worker's claim expires.
ALTER TABLE publications ADD COLUMN lease_until INTEGER;
-- The reply's id on the platform, once sent.
ALTER TABLE publications ADD COLUMN external_id TEXT;
CREATE INDEX publications_due ON publications (state, next_attempt_at);

CREATE TABLE intake_rejects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX intake_rejects_received ON intake_rejects (received_at);

CREATE TABLE channel_cursors (
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    cursor TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (channel, source)
);

-- Files citizens attach through the web form, kept in the database so that every worker can
-- serve them. Names are random and unguessable.
CREATE TABLE files (
    name TEXT PRIMARY KEY,
    content_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
