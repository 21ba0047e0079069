//! Queries for items and kits.

use sqlx::{any::AnyRow, AnyConnection, Row};

use super::model::{Category, Item, Kit, KitItem, ValidItem, ValidKit};
use crate::{db, money::Money};

const ITEM_COLUMNS: &str =
    "id, code, name_zh, name_en, category, unit_zh, unit_en, reference_price_fen, \
    shelf_life_days, status, created_at, updated_at";

fn item_from_row(r: &AnyRow) -> Result<Item, sqlx::Error> {
    let category: String = r.try_get("category")?;
    Ok(Item {
        id: r.try_get("id")?,
        code: r.try_get("code")?,
        name_zh: r.try_get("name_zh")?,
        name_en: r.try_get("name_en")?,
        category: Category::parse(&category)
            .ok_or_else(|| sqlx::Error::Decode("unknown category".into()))?,
        unit_zh: r.try_get("unit_zh")?,
        unit_en: r.try_get("unit_en")?,
        reference_price: r
            .try_get::<Option<i64>, _>("reference_price_fen")?
            .map(Money::from_fen),
        shelf_life_days: r.try_get("shelf_life_days")?,
        status: r.try_get("status")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

pub async fn insert_item(conn: &mut AnyConnection, item: &ValidItem) -> Result<Item, sqlx::Error> {
    let i = &item.0;
    let sql = format!(
        "INSERT INTO items (code, name_zh, name_en, category, unit_zh, unit_en, reference_price_fen, \
         shelf_life_days, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
         RETURNING {ITEM_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(i.code.clone())
        .bind(i.name_zh.clone())
        .bind(i.name_en.clone())
        .bind(i.category.as_str())
        .bind(i.unit_zh.clone())
        .bind(i.unit_en.clone())
        .bind(i.reference_price.map(Money::fen))
        .bind(i.shelf_life_days)
        .bind(db::now())
        .fetch_one(conn)
        .await?;
    item_from_row(&row)
}

pub async fn update_item(
    conn: &mut AnyConnection,
    id: i64,
    item: &ValidItem,
) -> Result<Item, sqlx::Error> {
    let i = &item.0;
    let sql = format!(
        "UPDATE items SET code = $1, name_zh = $2, name_en = $3, category = $4, unit_zh = $5, unit_en = $6, \
         reference_price_fen = $7, shelf_life_days = $8, updated_at = $9 WHERE id = $10 RETURNING {ITEM_COLUMNS}"
    );
    let row = sqlx::query(&sql)
        .bind(i.code.clone())
        .bind(i.name_zh.clone())
        .bind(i.name_en.clone())
        .bind(i.category.as_str())
        .bind(i.unit_zh.clone())
        .bind(i.unit_en.clone())
        .bind(i.reference_price.map(Money::fen))
        .bind(i.shelf_life_days)
        .bind(db::now())
        .bind(id)
        .fetch_one(conn)
        .await?;
    item_from_row(&row)
}

pub async fn get_item(conn: &mut AnyConnection, id: i64, lock: &str) -> Result<Item, sqlx::Error> {
    let row = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE id = $1{lock}"
    ))
    .bind(id)
    .fetch_one(conn)
    .await?;
    item_from_row(&row)
}

pub async fn list_items(
    conn: &mut AnyConnection,
    category: Option<Category>,
) -> Result<Vec<Item>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT {ITEM_COLUMNS} FROM items WHERE status = 'active' AND (CAST($1 AS TEXT) IS NULL OR category = $1) \
         ORDER BY category, code"
    ))
    .bind(category.map(Category::as_str))
    .fetch_all(conn)
    .await?;
    rows.iter().map(item_from_row).collect()
}

pub async fn insert_kit(conn: &mut AnyConnection, kit: &ValidKit) -> Result<i64, sqlx::Error> {
    let k = &kit.0;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO kits (code, name_zh, name_en, created_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(k.code.clone())
    .bind(k.name_zh.clone())
    .bind(k.name_en.clone())
    .bind(db::now())
    .fetch_one(&mut *conn)
    .await?;
    for line in &k.items {
        sqlx::query("INSERT INTO kit_items (kit_id, item_id, quantity) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(line.item_id)
            .bind(line.quantity)
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

pub async fn get_kit(conn: &mut AnyConnection, id: i64) -> Result<Kit, sqlx::Error> {
    let row = sqlx::query(
        "SELECT id, code, name_zh, name_en, status, created_at FROM kits WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    let items = sqlx::query(
        "SELECT k.item_id, i.code, i.name_zh, i.unit_zh, k.quantity FROM kit_items k \
         JOIN items i ON i.id = k.item_id WHERE k.kit_id = $1 ORDER BY i.code",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| KitItem {
        item_id: r.get("item_id"),
        code: r.get("code"),
        name_zh: r.get("name_zh"),
        unit_zh: r.get("unit_zh"),
        quantity: r.get("quantity"),
    })
    .collect();
    Ok(Kit {
        id: row.try_get("id")?,
        code: row.try_get("code")?,
        name_zh: row.try_get("name_zh")?,
        name_en: row.try_get("name_en")?,
        status: row.try_get("status")?,
        items,
        created_at: row.try_get("created_at")?,
    })
}

pub async fn list_kits(conn: &mut AnyConnection) -> Result<Vec<Kit>, sqlx::Error> {
    let ids: Vec<i64> =
        sqlx::query_scalar("SELECT id FROM kits WHERE status = 'active' ORDER BY code")
            .fetch_all(&mut *conn)
            .await?;
    let mut kits = Vec::with_capacity(ids.len());
    for id in ids {
        kits.push(get_kit(conn, id).await?);
    }
    Ok(kits)
}

/// The ids among `ids` that are not active items.
pub async fn missing_items(conn: &mut AnyConnection, ids: &[i64]) -> Result<Vec<i64>, sqlx::Error> {
    let mut missing = Vec::new();
    for &id in ids {
        let found: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM items WHERE id = $1 AND status = 'active'")
                .bind(id)
                .fetch_one(&mut *conn)
                .await?;
        if found == 0 {
            missing.push(id);
        }
    }
    Ok(missing)
}
