//! The catalogue: what can be asked for, pledged and bought. Owns `/api/v1/items`,
//! `/api/v1/kits` and the `/catalogue` page.

mod handlers;
pub mod model;
pub mod store;

pub use handlers::{api_router, page_router};

use crate::{
    app::AppState,
    audit::{self, Actor},
    error::{on_constraint, AppError},
};

fn code_taken() -> AppError {
    AppError::Conflict {
        code: "code_taken",
        detail: "another catalogue entry has this code".into(),
    }
}

pub async fn create_item(
    state: &AppState,
    actor: Actor<'_>,
    input: model::ItemInput,
) -> Result<model::Item, AppError> {
    let item = model::ValidItem::parse(input)?;
    let mut tx = state.db.begin().await?;
    let created = store::insert_item(tx.conn(), &item)
        .await
        .map_err(on_constraint("items_code_key", code_taken))?;
    audit::record(
        tx.conn(),
        actor,
        "create",
        "item",
        created.id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

pub async fn create_kit(
    state: &AppState,
    actor: Actor<'_>,
    input: model::KitInput,
) -> Result<model::Kit, AppError> {
    let kit = model::ValidKit::parse(input)?;
    let mut tx = state.db.begin().await?;
    let ids: Vec<i64> = kit.0.items.iter().map(|l| l.item_id).collect();
    let missing = store::missing_items(tx.conn(), &ids).await?;
    if let Some(&id) = missing.first() {
        let index = ids.iter().position(|&i| i == id).unwrap_or(0);
        return Err(AppError::validation(
            &format!("items[{index}].item_id"),
            "unknown_value",
            format!("no item {id}"),
        ));
    }
    let id = store::insert_kit(tx.conn(), &kit)
        .await
        .map_err(on_constraint("kits_code_key", code_taken))?;
    let created = store::get_kit(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        actor,
        "create",
        "kit",
        id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}
