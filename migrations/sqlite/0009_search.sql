-- Search: every change to a searchable record notes the record in `search_outbox`, by a
-- trigger, so the note is part of the same transaction as the change and a crash loses none.
-- The embedded index of each process and the Meilisearch sync read the notes after their own
-- cursor (`search_cursors` keeps Meilisearch's).

CREATE TABLE search_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

CREATE TABLE search_cursors (
    backend TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
);

CREATE TRIGGER search_organisations_insert AFTER INSERT ON organisations
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('organisation', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_organisations_update AFTER UPDATE ON organisations
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('organisation', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_items_insert AFTER INSERT ON items
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('item', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_items_update AFTER UPDATE ON items
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('item', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_needs_insert AFTER INSERT ON needs
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('need', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_needs_update AFTER UPDATE ON needs
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('need', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_pledges_insert AFTER INSERT ON pledges
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('pledge', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_pledges_update AFTER UPDATE ON pledges
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('pledge', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_supplier_offers_insert AFTER INSERT ON supplier_offers
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('offer', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER search_supplier_offers_update AFTER UPDATE ON supplier_offers
BEGIN
    INSERT INTO search_outbox (kind, record_id, created_at)
    VALUES ('offer', NEW.id, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;
