-- Needs: what a community asks for, with its lifecycle and the versions of every edit.

CREATE TABLE needs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    community_id INTEGER NOT NULL REFERENCES organisations (id),
    -- Copied from the community so the board groups 100,000 needs without a join.
    district TEXT NOT NULL,
    item_id INTEGER REFERENCES items (id),
    kit_id INTEGER REFERENCES kits (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    subsidy_headcount INTEGER CHECK (subsidy_headcount > 0),
    subsidy_days INTEGER CHECK (subsidy_days > 0),
    subsidy_rate_fen INTEGER CHECK (subsidy_rate_fen >= 0),
    urgency TEXT NOT NULL CHECK (urgency IN ('critical','high','normal')),
    beneficiary_group TEXT NOT NULL,
    beneficiary_count INTEGER NOT NULL CHECK (beneficiary_count >= 0),
    needed_by TEXT,
    delivery_mode TEXT NOT NULL CHECK (delivery_mode IN ('home_delivery','pickup')),
    note TEXT,
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','partially_matched','matched','in_delivery','delivered','closed','cancelled','expired')),
    status_reason TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT needs_one_thing CHECK ((item_id IS NULL) <> (kit_id IS NULL))
);
-- Covers the board: it reads open needs from the index alone.
CREATE INDEX needs_board ON needs (status, district, item_id, urgency, beneficiary_group, community_id, quantity);
CREATE INDEX needs_community ON needs (community_id, status);

-- The record as it was before each edit.
CREATE TABLE need_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    need_id INTEGER NOT NULL REFERENCES needs (id),
    version INTEGER NOT NULL,
    snapshot_json TEXT NOT NULL,
    replaced_by_user_id INTEGER REFERENCES users (id),
    replaced_at TEXT NOT NULL,
    CONSTRAINT need_versions_key UNIQUE (need_id, version)
);
