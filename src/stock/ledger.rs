//! The stock ledger: a movement and the entries it writes on the buckets of one lot at one
//! location. Balances are the sums of the entries, kept in `stock_balances` in the same
//! transaction; its CHECK keeps every bucket at zero or above, and `verify` recounts them.

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::{
    db::{self, Tx},
    error::AppError,
};

text_enum!(
    /// What a movement does.
    MovementKind {
        Receive = "receive",
        Transfer = "transfer",
        Reserve = "reserve",
        Release = "release",
        Dispatch = "dispatch",
        Deliver = "deliver",
        Return = "return",
        Adjust = "adjust",
        Stocktake = "stocktake",
        Reversal = "reversal",
    }
);

text_enum!(
    /// Where units of a lot at a location stand: free to use, held for one allocation, or out
    /// on a delivery run.
    Bucket { Available = "available", Reserved = "reserved", InTransit = "in_transit" }
);

/// One bucket of one lot at one location; `allocation` is 0 for available stock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub location: i64,
    pub lot: i64,
    pub bucket: Bucket,
    pub allocation: i64,
}

impl Key {
    pub fn available(location: i64, lot: i64) -> Key {
        Key {
            location,
            lot,
            bucket: Bucket::Available,
            allocation: 0,
        }
    }

    pub fn reserved(location: i64, lot: i64, allocation: i64) -> Key {
        Key {
            location,
            lot,
            bucket: Bucket::Reserved,
            allocation,
        }
    }

    pub fn in_transit(location: i64, lot: i64, allocation: i64) -> Key {
        Key {
            location,
            lot,
            bucket: Bucket::InTransit,
            allocation,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry {
    pub key: Key,
    pub delta: i64,
}

/// A movement to post: what it is, what it refers to, and its entries.
#[derive(Clone, Debug)]
pub struct Movement {
    pub kind: MovementKind,
    pub lot: i64,
    pub quantity: i64,
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub allocation: Option<i64>,
    pub delivery: Option<i64>,
    pub stocktake: Option<i64>,
    pub reverses: Option<i64>,
    pub reason: Option<String>,
    pub entries: Vec<Entry>,
}

impl Movement {
    fn new(kind: MovementKind, lot: i64, quantity: i64, entries: Vec<Entry>) -> Movement {
        Movement {
            kind,
            lot,
            quantity,
            from: None,
            to: None,
            allocation: None,
            delivery: None,
            stocktake: None,
            reverses: None,
            reason: None,
            entries,
        }
    }

    /// Units arrive at `to`: free, or straight into an allocation's reservation (a purchase).
    pub fn receive(lot: i64, to: i64, quantity: i64, allocation: Option<i64>) -> Movement {
        let key = match allocation {
            Some(a) => Key::reserved(to, lot, a),
            None => Key::available(to, lot),
        };
        Movement {
            to: Some(to),
            allocation,
            ..Movement::new(
                MovementKind::Receive,
                lot,
                quantity,
                vec![Entry {
                    key,
                    delta: quantity,
                }],
            )
        }
    }

    pub fn transfer(lot: i64, from: i64, to: i64, quantity: i64) -> Movement {
        Movement {
            from: Some(from),
            to: Some(to),
            ..Movement::new(
                MovementKind::Transfer,
                lot,
                quantity,
                vec![
                    Entry {
                        key: Key::available(from, lot),
                        delta: -quantity,
                    },
                    Entry {
                        key: Key::available(to, lot),
                        delta: quantity,
                    },
                ],
            )
        }
    }

    pub fn reserve(lot: i64, at: i64, allocation: i64, quantity: i64) -> Movement {
        Movement {
            from: Some(at),
            allocation: Some(allocation),
            ..Movement::new(
                MovementKind::Reserve,
                lot,
                quantity,
                vec![
                    Entry {
                        key: Key::available(at, lot),
                        delta: -quantity,
                    },
                    Entry {
                        key: Key::reserved(at, lot, allocation),
                        delta: quantity,
                    },
                ],
            )
        }
    }

    pub fn release(lot: i64, at: i64, allocation: i64, quantity: i64) -> Movement {
        Movement {
            from: Some(at),
            allocation: Some(allocation),
            ..Movement::new(
                MovementKind::Release,
                lot,
                quantity,
                vec![
                    Entry {
                        key: Key::reserved(at, lot, allocation),
                        delta: -quantity,
                    },
                    Entry {
                        key: Key::available(at, lot),
                        delta: quantity,
                    },
                ],
            )
        }
    }

    /// Units leave `from` on a run: out of an allocation's reservation, or out of free stock.
    pub fn dispatch(lot: i64, from: i64, allocation: Option<i64>, quantity: i64) -> Movement {
        let source = match allocation {
            Some(a) => Key::reserved(from, lot, a),
            None => Key::available(from, lot),
        };
        Movement {
            from: Some(from),
            allocation,
            ..Movement::new(
                MovementKind::Dispatch,
                lot,
                quantity,
                vec![
                    Entry {
                        key: source,
                        delta: -quantity,
                    },
                    Entry {
                        key: Key::in_transit(from, lot, allocation.unwrap_or(0)),
                        delta: quantity,
                    },
                ],
            )
        }
    }

    /// Units on a run reach the community and leave the books.
    pub fn deliver(lot: i64, from: i64, allocation: Option<i64>, quantity: i64) -> Movement {
        Movement {
            from: Some(from),
            allocation,
            ..Movement::new(
                MovementKind::Deliver,
                lot,
                quantity,
                vec![Entry {
                    key: Key::in_transit(from, lot, allocation.unwrap_or(0)),
                    delta: -quantity,
                }],
            )
        }
    }

    /// Units on a run come back into free stock at `to`.
    pub fn give_back(
        lot: i64,
        from: i64,
        to: i64,
        allocation: Option<i64>,
        quantity: i64,
    ) -> Movement {
        Movement {
            from: Some(from),
            to: Some(to),
            allocation,
            ..Movement::new(
                MovementKind::Return,
                lot,
                quantity,
                vec![
                    Entry {
                        key: Key::in_transit(from, lot, allocation.unwrap_or(0)),
                        delta: -quantity,
                    },
                    Entry {
                        key: Key::available(to, lot),
                        delta: quantity,
                    },
                ],
            )
        }
    }

    /// Found (+) or lost, damaged, expired (−) units of one bucket, with the reason.
    pub fn adjust(kind: MovementKind, key: Key, delta: i64, reason: String) -> Movement {
        Movement {
            from: (delta < 0).then_some(key.location),
            to: (delta > 0).then_some(key.location),
            allocation: (key.allocation != 0).then_some(key.allocation),
            reason: Some(reason),
            ..Movement::new(kind, key.lot, delta, vec![Entry { key, delta }])
        }
    }
}

/// Posts a movement: checks that no bucket it takes from would go below zero (locking those
/// balances first, in key order, so concurrent movements queue), then writes the movement, its
/// entries and the balances. Returns the movement id.
pub async fn post(tx: &mut Tx, movement: &Movement, actor: Option<i64>) -> Result<i64, AppError> {
    let lock = tx.for_update();
    let mut takes: Vec<&Entry> = movement.entries.iter().filter(|e| e.delta < 0).collect();
    takes.sort_by_key(|e| e.key);
    for entry in takes {
        let have = balance(tx.conn(), entry.key, lock).await?;
        if have < -entry.delta {
            return Err(short_of(tx.conn(), entry, have).await?);
        }
    }
    let item: i64 = sqlx::query("SELECT item_id FROM lots WHERE id = $1")
        .bind(movement.lot)
        .fetch_one(tx.conn())
        .await?
        .get(0);
    let id: i64 = sqlx::query(
        "INSERT INTO stock_movements (kind, lot_id, item_id, quantity, from_location_id, to_location_id, \
         allocation_id, delivery_id, stocktake_id, reverses_id, reason, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
    )
    .bind(movement.kind.as_str())
    .bind(movement.lot)
    .bind(item)
    .bind(movement.quantity)
    .bind(movement.from)
    .bind(movement.to)
    .bind(movement.allocation)
    .bind(movement.delivery)
    .bind(movement.stocktake)
    .bind(movement.reverses)
    .bind(movement.reason.as_deref())
    .bind(actor)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    for entry in &movement.entries {
        let k = entry.key;
        sqlx::query(
            "INSERT INTO stock_entries (movement_id, location_id, lot_id, bucket, allocation_id, delta) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(k.location)
        .bind(k.lot)
        .bind(k.bucket.as_str())
        .bind(k.allocation)
        .bind(entry.delta)
        .execute(tx.conn())
        .await?;
        // Make sure the row exists, then add: an upsert would check the CHECK against the
        // bare delta on SQLite.
        sqlx::query(
            "INSERT INTO stock_balances (location_id, lot_id, bucket, allocation_id, quantity) \
             VALUES ($1, $2, $3, $4, 0) ON CONFLICT (location_id, lot_id, bucket, allocation_id) DO NOTHING",
        )
        .bind(k.location)
        .bind(k.lot)
        .bind(k.bucket.as_str())
        .bind(k.allocation)
        .execute(tx.conn())
        .await?;
        sqlx::query(
            "UPDATE stock_balances SET quantity = quantity + $1 \
             WHERE location_id = $2 AND lot_id = $3 AND bucket = $4 AND allocation_id = $5",
        )
        .bind(entry.delta)
        .bind(k.location)
        .bind(k.lot)
        .bind(k.bucket.as_str())
        .bind(k.allocation)
        .execute(tx.conn())
        .await?;
    }
    Ok(id)
}

/// The current quantity of one bucket (0 when it never held anything).
pub async fn balance(conn: &mut AnyConnection, key: Key, lock: &str) -> Result<i64, AppError> {
    let row = sqlx::query(&format!(
        "SELECT quantity FROM stock_balances WHERE location_id = $1 AND lot_id = $2 AND bucket = $3 \
         AND allocation_id = $4{lock}"
    ))
    .bind(key.location)
    .bind(key.lot)
    .bind(key.bucket.as_str())
    .bind(key.allocation)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.get::<i64, _>(0)).unwrap_or(0))
}

async fn short_of(
    conn: &mut AnyConnection,
    entry: &Entry,
    have: i64,
) -> Result<AppError, AppError> {
    let row = sqlx::query(
        "SELECT l.code, COALESCE(loc.name_en, loc.name_zh) AS location FROM lots l, locations loc \
         WHERE l.id = $1 AND loc.id = $2",
    )
    .bind(entry.key.lot)
    .bind(entry.key.location)
    .fetch_optional(conn)
    .await?;
    let (lot, location) = row
        .map(|r| (r.get::<String, _>(0), r.get::<String, _>(1)))
        .unwrap_or_else(|| (entry.key.lot.to_string(), entry.key.location.to_string()));
    let bucket = match entry.key.bucket {
        Bucket::Available => "available".to_owned(),
        Bucket::Reserved => format!("reserved for allocation {}", entry.key.allocation),
        Bucket::InTransit => format!("on the way for allocation {}", entry.key.allocation),
    };
    Ok(AppError::Conflict {
        code: "insufficient_stock",
        detail: format!(
            "lot {lot} at {location} has {have} {bucket}; {} needed",
            -entry.delta
        ),
    })
}

/// The entries of a movement, to reverse it.
pub async fn entries_of(tx: &mut Tx, movement: i64) -> Result<Vec<Entry>, AppError> {
    let rows = sqlx::query(
        "SELECT location_id, lot_id, bucket, allocation_id, delta FROM stock_entries WHERE movement_id = $1",
    )
    .bind(movement)
    .fetch_all(tx.conn())
    .await?;
    Ok(rows
        .iter()
        .map(|r| Entry {
            key: Key {
                location: r.get(0),
                lot: r.get(1),
                bucket: Bucket::parse(&r.get::<String, _>(2)).unwrap_or(Bucket::Available),
                allocation: r.get(3),
            },
            delta: r.get(4),
        })
        .collect())
}

/// Problems with the stock books: a balance that differs from the recount of its entries, or
/// that is negative. Empty when the books are sound.
pub async fn verify(conn: &mut AnyConnection) -> Result<Vec<String>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT k.location_id, k.lot_id, k.bucket, k.allocation_id, \
                CAST(COALESCE(b.quantity, 0) AS BIGINT) AS kept, CAST(COALESCE(e.total, 0) AS BIGINT) AS counted \
         FROM (SELECT location_id, lot_id, bucket, allocation_id FROM stock_balances \
               UNION SELECT location_id, lot_id, bucket, allocation_id FROM stock_entries) k \
         LEFT JOIN stock_balances b ON b.location_id = k.location_id AND b.lot_id = k.lot_id \
              AND b.bucket = k.bucket AND b.allocation_id = k.allocation_id \
         LEFT JOIN (SELECT location_id, lot_id, bucket, allocation_id, SUM(delta) AS total FROM stock_entries \
                    GROUP BY location_id, lot_id, bucket, allocation_id) e \
              ON e.location_id = k.location_id AND e.lot_id = k.lot_id AND e.bucket = k.bucket \
              AND e.allocation_id = k.allocation_id \
         WHERE COALESCE(b.quantity, 0) <> COALESCE(e.total, 0) OR COALESCE(b.quantity, 0) < 0",
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            format!(
                "stock: lot {} at location {} {} (allocation {}) is {} but its movements add up to {}",
                r.get::<i64, _>(1),
                r.get::<i64, _>(0),
                r.get::<String, _>(2),
                r.get::<i64, _>(3),
                r.get::<i64, _>(4),
                r.get::<i64, _>(5)
            )
        })
        .collect())
}

/// How a balance row reads in the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BucketBalance {
    pub location_id: i64,
    pub lot_id: i64,
    pub bucket: Bucket,
    pub allocation_id: Option<i64>,
    pub quantity: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(m: &Movement) -> i64 {
        m.entries.iter().map(|e| e.delta).sum()
    }

    #[test]
    fn internal_movements_keep_the_units_they_move() {
        for m in [
            Movement::transfer(1, 1, 2, 5),
            Movement::reserve(1, 1, 9, 5),
            Movement::release(1, 1, 9, 5),
            Movement::dispatch(1, 1, Some(9), 5),
            Movement::dispatch(1, 1, None, 5),
            Movement::give_back(1, 1, 2, Some(9), 5),
        ] {
            assert_eq!(net(&m), 0, "{:?}", m.kind);
        }
        assert_eq!(net(&Movement::receive(1, 1, 5, None)), 5);
        assert_eq!(net(&Movement::deliver(1, 1, Some(9), 5)), -5);
    }

    #[test]
    fn a_purchase_arrives_reserved_for_its_allocation() {
        let m = Movement::receive(3, 4, 10, Some(7));
        assert_eq!(m.entries[0].key, Key::reserved(4, 3, 7));
    }
}
