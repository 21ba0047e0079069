-- Pledges of money or goods from donors, optionally earmarked; and the idempotency keys that
-- make a retried create never count twice.

CREATE TABLE pledges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    donor_id INTEGER NOT NULL REFERENCES organisations (id),
    kind TEXT NOT NULL CHECK (kind IN ('money','goods')),
    amount_fen INTEGER CHECK (amount_fen > 0),
    currency TEXT NOT NULL DEFAULT 'CNY',
    item_id INTEGER REFERENCES items (id),
    quantity INTEGER CHECK (quantity > 0),
    expires_on TEXT,
    available_from TEXT,
    pickup_location TEXT,
    earmark_json TEXT NOT NULL DEFAULT '{}',
    note TEXT,
    status TEXT NOT NULL DEFAULT 'pledged' CHECK (status IN ('pledged','received','allocated','used_up','cancelled')),
    status_reason TEXT,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT pledges_shape CHECK (
        (kind = 'money' AND amount_fen IS NOT NULL AND item_id IS NULL AND quantity IS NULL)
        OR (kind = 'goods' AND amount_fen IS NULL AND item_id IS NOT NULL AND quantity IS NOT NULL))
);
CREATE INDEX pledges_donor ON pledges (donor_id, status);
CREATE INDEX pledges_status_item ON pledges (status, item_id);

CREATE TABLE idempotency_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id),
    scope TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CONSTRAINT idempotency_keys_key UNIQUE (user_id, scope, idempotency_key)
);
