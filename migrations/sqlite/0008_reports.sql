-- Donor feedback, closing reports and email.
--
-- The outbox holds every message to send: written in the same transaction as what caused it,
-- delivered by a worker with retries and backoff, one row per message (the dedupe key makes a
-- repeated batch add nothing). A message is claimed by a conditional update, so two replicas
-- never send the same one at once.

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe_key TEXT NOT NULL,
    to_address TEXT NOT NULL,
    to_name TEXT,
    subject TEXT NOT NULL,
    body_text TEXT NOT NULL,
    body_html TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','sending','sent','failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    claimed_until TEXT,
    last_error TEXT,
    delivered_via TEXT,
    related_type TEXT,
    related_id INTEGER,
    batch_id INTEGER,
    created_at TEXT NOT NULL,
    sent_at TEXT,
    CONSTRAINT outbox_dedupe_key UNIQUE (dedupe_key)
);
CREATE INDEX outbox_due ON outbox (status, next_attempt_at);
CREATE INDEX outbox_batch ON outbox (batch_id);

CREATE TABLE feedback_batches (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    lang TEXT NOT NULL,
    messages INTEGER NOT NULL,
    skipped_json TEXT NOT NULL DEFAULT '[]',
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);

-- Read-only links to one gift's feedback: only a hash of the token is kept.
CREATE TABLE share_links (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pledge_id INTEGER NOT NULL REFERENCES pledges (id),
    token_hash TEXT NOT NULL,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    revoked_at TEXT,
    CONSTRAINT share_links_token_key UNIQUE (token_hash)
);
CREATE INDEX share_links_pledge ON share_links (pledge_id);
