-- The catalogue: items with category, unit, reference price (fen) and shelf life; kits of items.

CREATE TABLE items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT,
    category TEXT NOT NULL CHECK (category IN ('protective','disinfection','food','meals','daily_necessities','medicine','equipment','subsidy','service')),
    unit_zh TEXT NOT NULL,
    unit_en TEXT,
    reference_price_fen INTEGER CHECK (reference_price_fen >= 0),
    shelf_life_days INTEGER CHECK (shelf_life_days > 0),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','archived')),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT items_code_key UNIQUE (code)
);

CREATE TABLE kits (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    code TEXT NOT NULL,
    name_zh TEXT NOT NULL,
    name_en TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','archived')),
    created_at TEXT NOT NULL,
    CONSTRAINT kits_code_key UNIQUE (code)
);

CREATE TABLE kit_items (
    kit_id INTEGER NOT NULL REFERENCES kits (id),
    item_id INTEGER NOT NULL REFERENCES items (id),
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    PRIMARY KEY (kit_id, item_id)
);
