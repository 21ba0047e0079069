-- Matching plans: what the engine proposed (a draft a hub coordinator reviews and may change),
-- and the allocations a confirmed plan turned its lines into. A pledge's remaining supply is
-- its quantity (or amount) minus its reserved allocations; a need's remaining shortfall is what
-- it asked minus its reserved allocations. Job runs let a scheduled job run once per day
-- across replicas: the first to insert the (job, run_key) row runs it.

CREATE TABLE plans (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','confirmed','discarded')),
    origin TEXT NOT NULL CHECK (origin IN ('manual','scheduled')),
    planned_for TEXT NOT NULL,
    needs_count INTEGER NOT NULL,
    asked INTEGER NOT NULL,
    allocated INTEGER NOT NULL,
    money_spent_fen INTEGER NOT NULL,
    unmet_json TEXT NOT NULL DEFAULT '[]',
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    decided_by INTEGER REFERENCES users (id),
    decided_at TEXT,
    discard_reason TEXT
);
CREATE INDEX plans_status ON plans (status, created_at);

CREATE TABLE plan_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id INTEGER NOT NULL REFERENCES plans (id),
    need_id INTEGER NOT NULL REFERENCES needs (id),
    item_id INTEGER NOT NULL REFERENCES items (id),
    pledge_id INTEGER NOT NULL REFERENCES pledges (id),
    offer_id INTEGER REFERENCES supplier_offers (id),
    proposed_quantity INTEGER NOT NULL CHECK (proposed_quantity > 0),
    quantity INTEGER NOT NULL CHECK (quantity >= 0),
    unit_cost_fen INTEGER CHECK (unit_cost_fen >= 0),
    distance_m INTEGER,
    reason TEXT NOT NULL,
    -- The reason as data (class, share, source), rendered in the reader's language.
    why_json TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX plan_lines_plan ON plan_lines (plan_id, need_id);

CREATE TABLE allocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id INTEGER NOT NULL REFERENCES plans (id),
    plan_line_id INTEGER NOT NULL REFERENCES plan_lines (id),
    need_id INTEGER NOT NULL REFERENCES needs (id),
    item_id INTEGER NOT NULL REFERENCES items (id),
    pledge_id INTEGER NOT NULL REFERENCES pledges (id),
    offer_id INTEGER REFERENCES supplier_offers (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    cost_fen INTEGER NOT NULL DEFAULT 0 CHECK (cost_fen >= 0),
    status TEXT NOT NULL DEFAULT 'reserved' CHECK (status IN ('reserved','released')),
    reason TEXT NOT NULL,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX allocations_need ON allocations (need_id, status);
CREATE INDEX allocations_pledge ON allocations (pledge_id, status);
CREATE INDEX allocations_offer ON allocations (offer_id, created_at);

CREATE TABLE job_runs (
    job TEXT NOT NULL,
    run_key TEXT NOT NULL,
    started_at TEXT NOT NULL,
    plan_id INTEGER REFERENCES plans (id),
    PRIMARY KEY (job, run_key)
);
