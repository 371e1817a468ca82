-- Otklik schema, SQLite flavour. Instants are Unix milliseconds; JSON is text; booleans are 0/1.
CREATE TABLE territories (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    full_name TEXT NOT NULL,
    level TEXT NOT NULL,
    parent TEXT,
    zone TEXT NOT NULL,
    oktmo TEXT,
    aliases TEXT NOT NULL DEFAULT '[]'
);

CREATE TABLE organisations (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    territory TEXT NOT NULL,
    parent TEXT,
    sectors TEXT NOT NULL DEFAULT '[]',
    working_hours TEXT
);

CREATE TABLE categories (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    photo_required INTEGER NOT NULL DEFAULT 0,
    form_days INTEGER
);

CREATE TABLE sources (
    channel TEXT NOT NULL,
    key TEXT NOT NULL,
    name TEXT NOT NULL,
    territory TEXT,
    org TEXT,
    PRIMARY KEY (channel, key)
);

CREATE TABLE routing_rules (
    code TEXT PRIMARY KEY,
    category TEXT,
    territory TEXT,
    channel TEXT,
    kind TEXT,
    org TEXT NOT NULL,
    co_executors TEXT NOT NULL DEFAULT '[]',
    priority INTEGER NOT NULL DEFAULT 0
);

-- Deadline policies, each kept whole as JSON (their conditions and targets change together).
CREATE TABLE deadline_policies (
    code TEXT PRIMARY KEY,
    body TEXT NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    grants TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users(id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER
);

CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,
    kind TEXT,
    category TEXT,
    direction TEXT,
    territory TEXT,
    region TEXT,
    municipality TEXT,
    org TEXT,
    suggested_org TEXT,
    route_note TEXT,
    assignee INTEGER,
    urgent INTEGER NOT NULL DEFAULT 0,
    sentiment TEXT,
    confidence TEXT,
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    summary TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    first_answer_due INTEGER,
    resolution_due INTEGER,
    next_due INTEGER NOT NULL,
    -- Derived, so "what to announce next" is an index scan: the 80 % warning and the breach of the
    -- current deadline not yet announced (the largest value when there is none).
    next_warn INTEGER NOT NULL,
    next_breach INTEGER NOT NULL,
    paused_at INTEGER,
    warned_due INTEGER,
    breached_due INTEGER,
    escalation_level INTEGER NOT NULL DEFAULT 0,
    next_escalation INTEGER NOT NULL DEFAULT 9223372036854775807,
    first_answered_at INTEGER,
    closed_at INTEGER,
    rating INTEGER,
    first_answer_seconds INTEGER,
    first_answer_working_seconds INTEGER,
    closure_seconds INTEGER,
    closure_working_seconds INTEGER,
    deadline_policy TEXT,
    tags TEXT NOT NULL DEFAULT '[]',
    version INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX incidents_created ON incidents (created_at, id);
CREATE INDEX incidents_updated ON incidents (updated_at, id);
CREATE INDEX incidents_due ON incidents (next_due, id);
CREATE INDEX incidents_warn ON incidents (next_warn, id);
CREATE INDEX incidents_breach ON incidents (next_breach, id);
CREATE INDEX incidents_escalation ON incidents (next_escalation, id);
CREATE INDEX incidents_status ON incidents (status, created_at, id);
CREATE INDEX incidents_region ON incidents (region, created_at, id);
CREATE INDEX incidents_municipality ON incidents (municipality, created_at, id);
CREATE INDEX incidents_territory ON incidents (territory, created_at, id);
CREATE INDEX incidents_org ON incidents (org, created_at, id);
CREATE INDEX incidents_region_due ON incidents (region, next_due, id);
CREATE INDEX incidents_municipality_due ON incidents (municipality, next_due, id);
CREATE INDEX incidents_org_due ON incidents (org, next_due, id);
CREATE INDEX incidents_direction ON incidents (direction, created_at, id);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    channel TEXT NOT NULL,
    source TEXT NOT NULL,
    external_id TEXT NOT NULL,
    thread_id TEXT,
    parent_id TEXT,
    author_id TEXT NOT NULL,
    author_name TEXT,
    text TEXT NOT NULL,
    attachments TEXT NOT NULL DEFAULT '[]',
    url TEXT,
    published_at INTEGER NOT NULL,
    captured_at INTEGER NOT NULL,
    raw TEXT NOT NULL,
    UNIQUE (channel, source, external_id)
);
CREATE INDEX messages_incident ON messages (incident_id);

CREATE TABLE message_revisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER NOT NULL REFERENCES messages(id),
    kind TEXT NOT NULL,
    text TEXT,
    at INTEGER NOT NULL
);
CREATE INDEX message_revisions_message ON message_revisions (message_id);

CREATE TABLE answers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    state TEXT NOT NULL,
    author_id INTEGER,
    reviewer_id INTEGER,
    return_reason TEXT,
    return_comment TEXT,
    attachments TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    published_at INTEGER
);
CREATE INDEX answers_incident ON answers (incident_id);

CREATE TABLE publications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id INTEGER NOT NULL REFERENCES answers(id),
    channel TEXT NOT NULL,
    target TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    updated_at INTEGER NOT NULL,
    UNIQUE (answer_id, channel, target)
);
CREATE INDEX publications_state ON publications (state, updated_at);

CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    at INTEGER NOT NULL,
    actor_id INTEGER,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    changes TEXT NOT NULL,
    note TEXT
);
CREATE INDEX events_incident ON events (incident_id, id);

CREATE TABLE notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    incident_id INTEGER NOT NULL REFERENCES incidents(id),
    kind TEXT NOT NULL,
    org TEXT,
    region TEXT,
    municipality TEXT,
    text TEXT NOT NULL,
    webhook_state TEXT NOT NULL,
    webhook_attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_webhook ON notifications (webhook_state, id);
CREATE INDEX notifications_org ON notifications (org, id);
CREATE INDEX notifications_municipality ON notifications (municipality, id);
CREATE INDEX notifications_region ON notifications (region, id);
