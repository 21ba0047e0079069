//! The registry: communities, partner organisations, hubs, suppliers, donors and foundations.
//! Owns the `/api/v1/organisations` resource and the `/organisations` pages.

mod handlers;
pub mod model;
mod pages;
pub mod store;

pub use handlers::api_router;
pub use pages::page_router;

use model::{Organisation, OrganisationInput, ValidOrganisation};

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Permission, Principal},
    error::AppError,
    validate::Fields,
};

/// Registers an organisation, audited, in one transaction.
pub async fn create(
    state: &AppState,
    actor: &Principal,
    input: OrganisationInput,
) -> Result<Organisation, AppError> {
    let org = ValidOrganisation::parse(input)?;
    let mut tx = state.db.begin().await?;
    let created = store::insert(tx.conn(), &org).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "create",
        "organisation",
        created.id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    tx.commit().await?;
    Ok(created)
}

/// Replaces an organisation's record. Ownership is checked against the stored row, and the kind
/// of an organisation never changes (accounts are bound to it by kind).
pub async fn update(
    state: &AppState,
    actor: Option<&Principal>,
    id: i64,
    input: OrganisationInput,
) -> Result<Organisation, AppError> {
    let actor = authorize(
        actor,
        Permission::UpdateOrganisation {
            organisation_id: id,
        },
    )?;
    let org = ValidOrganisation::parse(input)?;
    let mut tx = state.db.begin().await?;
    let lock = tx.for_update();
    let before = store::get(tx.conn(), id, lock).await?;
    if before.kind != org.kind {
        return Err(AppError::validation(
            "kind",
            "invalid",
            "the kind of an organisation cannot change",
        ));
    }
    if before.status == "archived" {
        return Err(AppError::Conflict {
            code: "archived",
            detail: "this organisation is archived".into(),
        });
    }
    let after = store::update(tx.conn(), id, &org).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "update",
        "organisation",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Archives an organisation with a reason; nothing is ever deleted.
pub async fn archive(
    state: &AppState,
    actor: &Principal,
    id: i64,
    reason: &str,
) -> Result<Organisation, AppError> {
    let mut fields = Fields::new();
    let reason = fields.required_text("reason", reason, 500);
    fields.finish()?;
    let mut tx = state.db.begin().await?;
    let lock = tx.for_update();
    let before = store::get(tx.conn(), id, lock).await?;
    if before.status == "archived" {
        return Err(AppError::Conflict {
            code: "already_archived",
            detail: "already archived".into(),
        });
    }
    let after = store::archive(tx.conn(), id, &reason).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "archive",
        "organisation",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn names(pool: &sqlx::AnyPool, ids: &[i64]) -> Result<Vec<store::OrgName>, AppError> {
    let mut conn = pool.acquire().await?;
    Ok(store::names(&mut conn, ids).await?)
}
