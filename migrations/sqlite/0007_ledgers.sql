-- Stock and fund ledgers, dispatch and delivery.
--
-- Stock: every change is a movement (append-only) whose effect is written as entries on
-- buckets of one lot at one location: `available`, `reserved` (for one allocation) and
-- `in_transit` (on a delivery run, for one allocation). `stock_balances` holds the sum of the
-- entries per bucket, kept in the same transaction as the movement, and its CHECK means no
-- bucket can go below zero whatever the concurrency. A recount from the entries must always
-- equal it.
--
-- Funds: a double-entry ledger per project. Every entry's lines sum to zero. Accounts:
-- `cash:general` and `cash:pledge:{id}` (money held, unrestricted or per restricted pledge),
-- `donations:…` (what was received into each fund), `line:{id}` (spent on a budget line),
-- `payable:{supplier}`.

CREATE TABLE locations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('warehouse','station','pickup')),
    name_zh TEXT NOT NULL,
    name_en TEXT,
    organisation_id INTEGER REFERENCES organisations (id),
    district TEXT NOT NULL,
    address TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','archived')),
    created_at TEXT NOT NULL
);

CREATE TABLE lots (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL REFERENCES items (id),
    pledge_id INTEGER REFERENCES pledges (id),
    allocation_id INTEGER REFERENCES allocations (id),
    code TEXT NOT NULL,
    expires_on TEXT,
    created_at TEXT NOT NULL
);
CREATE INDEX lots_item ON lots (item_id, expires_on);
CREATE INDEX lots_pledge ON lots (pledge_id);

CREATE TABLE stock_movements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('receive','transfer','reserve','release','dispatch','deliver','return','adjust','stocktake','reversal')),
    lot_id INTEGER NOT NULL REFERENCES lots (id),
    item_id INTEGER NOT NULL REFERENCES items (id),
    -- Signed only for adjustments and stocktake differences.
    quantity INTEGER NOT NULL CHECK (quantity <> 0),
    from_location_id INTEGER REFERENCES locations (id),
    to_location_id INTEGER REFERENCES locations (id),
    allocation_id INTEGER REFERENCES allocations (id),
    delivery_id INTEGER,
    stocktake_id INTEGER,
    reverses_id INTEGER REFERENCES stock_movements (id),
    reason TEXT,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    CONSTRAINT stock_movements_reversed_once UNIQUE (reverses_id)
);
CREATE INDEX stock_movements_lot ON stock_movements (lot_id, id);
CREATE INDEX stock_movements_allocation ON stock_movements (allocation_id);

CREATE TABLE stock_entries (
    movement_id INTEGER NOT NULL REFERENCES stock_movements (id),
    location_id INTEGER NOT NULL REFERENCES locations (id),
    lot_id INTEGER NOT NULL REFERENCES lots (id),
    bucket TEXT NOT NULL CHECK (bucket IN ('available','reserved','in_transit')),
    allocation_id INTEGER NOT NULL DEFAULT 0,
    delta INTEGER NOT NULL
);
CREATE INDEX stock_entries_movement ON stock_entries (movement_id);
CREATE INDEX stock_entries_key ON stock_entries (location_id, lot_id, bucket, allocation_id);

CREATE TABLE stock_balances (
    location_id INTEGER NOT NULL REFERENCES locations (id),
    lot_id INTEGER NOT NULL REFERENCES lots (id),
    bucket TEXT NOT NULL,
    allocation_id INTEGER NOT NULL DEFAULT 0,
    quantity INTEGER NOT NULL CONSTRAINT stock_never_negative CHECK (quantity >= 0),
    PRIMARY KEY (location_id, lot_id, bucket, allocation_id)
);
CREATE INDEX stock_balances_allocation ON stock_balances (allocation_id, bucket);

CREATE TABLE stocktakes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    location_id INTEGER NOT NULL REFERENCES locations (id),
    note TEXT,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);

CREATE TABLE stocktake_lines (
    stocktake_id INTEGER NOT NULL REFERENCES stocktakes (id),
    lot_id INTEGER NOT NULL REFERENCES lots (id),
    book INTEGER NOT NULL,
    counted INTEGER NOT NULL CHECK (counted >= 0),
    movement_id INTEGER REFERENCES stock_movements (id),
    PRIMARY KEY (stocktake_id, lot_id)
);

-- Units of an allocation that did not reach the community: back in stock, or written off.
ALTER TABLE allocations ADD COLUMN returned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE allocations ADD COLUMN written_off INTEGER NOT NULL DEFAULT 0;
-- The disbursement that paid for a purchase allocation, set once.
ALTER TABLE allocations ADD COLUMN disbursement_id INTEGER;

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_date TEXT NOT NULL,
    community_id INTEGER NOT NULL REFERENCES organisations (id),
    mode TEXT NOT NULL CHECK (mode IN ('home_delivery','pickup')),
    status TEXT NOT NULL DEFAULT 'planned' CHECK (status IN ('planned','dispatched','delivered','confirmed')),
    delivered_by INTEGER REFERENCES users (id),
    delivered_at TEXT,
    confirmed_by INTEGER REFERENCES users (id),
    confirmed_at TEXT,
    note TEXT,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX deliveries_date ON deliveries (run_date, community_id);

CREATE TABLE delivery_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id),
    allocation_id INTEGER NOT NULL REFERENCES allocations (id),
    need_id INTEGER NOT NULL REFERENCES needs (id),
    item_id INTEGER NOT NULL REFERENCES items (id),
    lot_id INTEGER NOT NULL REFERENCES lots (id),
    location_id INTEGER NOT NULL REFERENCES locations (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    received INTEGER CHECK (received >= 0),
    damaged INTEGER CHECK (damaged >= 0),
    note TEXT
);
CREATE INDEX delivery_lines_delivery ON delivery_lines (delivery_id);
CREATE INDEX delivery_lines_allocation ON delivery_lines (allocation_id);

CREATE TABLE projects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name_zh TEXT NOT NULL,
    name_en TEXT,
    foundation_id INTEGER REFERENCES organisations (id),
    implementers TEXT NOT NULL DEFAULT '',
    funders TEXT NOT NULL DEFAULT '',
    area TEXT NOT NULL DEFAULT '',
    starts_on TEXT NOT NULL,
    ends_on TEXT NOT NULL,
    goals TEXT NOT NULL DEFAULT '',
    direct_beneficiaries INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','closed')),
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL,
    CONSTRAINT projects_name_key UNIQUE (name_zh)
);

CREATE TABLE budget_lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    position INTEGER NOT NULL,
    category TEXT NOT NULL,
    unit_price_fen INTEGER CHECK (unit_price_fen >= 0),
    quantity INTEGER CHECK (quantity >= 0),
    unit TEXT,
    amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0)
);
CREATE INDEX budget_lines_project ON budget_lines (project_id, position);

CREATE TABLE indicators (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    target INTEGER CHECK (target >= 0),
    unit TEXT NOT NULL DEFAULT '',
    achieved INTEGER NOT NULL DEFAULT 0 CHECK (achieved >= 0)
);

CREATE TABLE ledger_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    kind TEXT NOT NULL CHECK (kind IN ('receipt','disbursement')),
    memo TEXT NOT NULL,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX ledger_entries_project ON ledger_entries (project_id, id);

CREATE TABLE ledger_lines (
    entry_id INTEGER NOT NULL REFERENCES ledger_entries (id),
    project_id INTEGER NOT NULL REFERENCES projects (id),
    account TEXT NOT NULL,
    -- Debit positive, credit negative; the lines of an entry sum to zero.
    amount_fen INTEGER NOT NULL CHECK (amount_fen <> 0)
);
CREATE INDEX ledger_lines_entry ON ledger_lines (entry_id);
CREATE INDEX ledger_lines_account ON ledger_lines (project_id, account);

-- Debit and credit totals per account, kept in the same transaction as each entry so a
-- report over a million lines reads a few rows; the books check recounts them.
CREATE TABLE ledger_balances (
    project_id INTEGER NOT NULL REFERENCES projects (id),
    account TEXT NOT NULL,
    debit_fen INTEGER NOT NULL DEFAULT 0,
    credit_fen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, account)
);

CREATE TABLE receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    pledge_id INTEGER NOT NULL REFERENCES pledges (id),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    fund TEXT NOT NULL,
    received_on TEXT NOT NULL,
    entry_id INTEGER NOT NULL REFERENCES ledger_entries (id),
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX receipts_pledge ON receipts (pledge_id);

CREATE TABLE disbursements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    budget_line_id INTEGER NOT NULL REFERENCES budget_lines (id),
    kind TEXT NOT NULL CHECK (kind IN ('purchase','subsidy','care_grant','transport','fee_tax','other')),
    fund TEXT NOT NULL,
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    payee TEXT NOT NULL,
    supplier_id INTEGER REFERENCES organisations (id),
    beneficiary_group TEXT,
    headcount INTEGER,
    rate_fen INTEGER,
    days INTEGER,
    allocation_ids TEXT NOT NULL DEFAULT '[]',
    paid_on TEXT NOT NULL,
    memo TEXT,
    override_reason TEXT,
    entry_id INTEGER NOT NULL REFERENCES ledger_entries (id),
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX disbursements_project ON disbursements (project_id, budget_line_id);
CREATE INDEX disbursements_kind ON disbursements (project_id, kind);

CREATE TABLE budget_adjustments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id INTEGER NOT NULL REFERENCES projects (id),
    from_line_id INTEGER NOT NULL REFERENCES budget_lines (id),
    to_line_id INTEGER NOT NULL REFERENCES budget_lines (id),
    amount_fen INTEGER NOT NULL CHECK (amount_fen > 0),
    reason TEXT NOT NULL,
    created_by INTEGER REFERENCES users (id),
    created_at TEXT NOT NULL
);
CREATE INDEX budget_adjustments_project ON budget_adjustments (project_id);
