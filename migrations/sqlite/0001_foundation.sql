-- Foundation: organisations, accounts, sessions, API tokens, audit trail, idempotency.
-- Timestamps are RFC 3339 UTC text so both backends sort and compare them the same way.

CREATE TABLE organisations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('community','partner','hub','supplier','donor','foundation')),
    donor_type TEXT CHECK (donor_type IN ('individual','institution')),
    name_zh TEXT NOT NULL,
    name_en TEXT,
    district TEXT NOT NULL,
    address TEXT,
    -- Geo point in millionths of a degree (about 0.1 m): exact, and no float parameters.
    lat_e6 INTEGER,
    lon_e6 INTEGER,
    contact_name TEXT,
    contact_phone TEXT,
    contact_email TEXT,
    households INTEGER,
    residents INTEGER,
    residents_over_60 INTEGER,
    elders_living_alone INTEGER,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','archived')),
    archived_reason TEXT,
    archived_at TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX organisations_kind_district ON organisations (kind, district);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin','hub_coordinator','community_secretary','donor','supplier','foundation_staff')),
    password_hash TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','disabled')),
    created_at TEXT NOT NULL,
    CONSTRAINT users_email_key UNIQUE (email)
);

-- Which organisations an account acts for: a secretary's communities, a donor's or supplier's own record.
CREATE TABLE user_organisations (
    user_id INTEGER NOT NULL REFERENCES users (id),
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (user_id, organisation_id)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users (id),
    csrf_token TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    ended_at TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT,
    revoked_at TEXT,
    CONSTRAINT api_tokens_hash_key UNIQUE (token_hash)
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

CREATE TABLE audit_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_user_id INTEGER REFERENCES users (id),
    actor_label TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_type TEXT NOT NULL,
    entity_id INTEGER NOT NULL,
    before_json TEXT,
    after_json TEXT,
    request_id TEXT,
    at TEXT NOT NULL
);
CREATE INDEX audit_events_entity ON audit_events (entity_type, entity_id);
