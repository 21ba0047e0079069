-- Supplier offers (item, unit price, weekly capacity, lead time, minimum order, validity) and
-- framework agreements that lie dormant until a hub activates them in an emergency.

CREATE TABLE agreements (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    supplier_id INTEGER NOT NULL REFERENCES organisations (id),
    title TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'dormant' CHECK (status IN ('dormant','active','ended')),
    valid_until TEXT,
    note TEXT,
    activated_at TEXT,
    activated_by INTEGER REFERENCES users (id),
    activation_reason TEXT,
    ended_at TEXT,
    end_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX agreements_supplier ON agreements (supplier_id, status);

CREATE TABLE supplier_offers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    supplier_id INTEGER NOT NULL REFERENCES organisations (id),
    agreement_id INTEGER REFERENCES agreements (id),
    item_id INTEGER NOT NULL REFERENCES items (id),
    unit_price_fen INTEGER NOT NULL CHECK (unit_price_fen >= 0),
    weekly_capacity INTEGER NOT NULL CHECK (weekly_capacity > 0),
    lead_days INTEGER NOT NULL CHECK (lead_days >= 0),
    min_order INTEGER NOT NULL DEFAULT 1 CHECK (min_order > 0),
    valid_from TEXT,
    valid_until TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','withdrawn')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX supplier_offers_item ON supplier_offers (item_id, status);
CREATE INDEX supplier_offers_supplier ON supplier_offers (supplier_id);
