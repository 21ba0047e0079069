//! Pledges: what donors promise. Owns `/api/v1/pledges`.

mod handlers;
pub mod model;
mod pages;
pub mod store;

pub use handlers::api_router;
pub use pages::page_router;

use axum::http::StatusCode;
use model::{Pledge, PledgeInput, PledgeStatus, ValidPledge};

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Permission, Principal, Role},
    db::Tx,
    error::AppError,
    idempotency,
};

const CREATE_SCOPE: &str = "POST /api/v1/pledges";

/// Creates a pledge once per `Idempotency-Key`: a retry returns the first answer.
pub async fn create(
    state: &AppState,
    actor: &Principal,
    key: &str,
    input: PledgeInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(
        Some(actor),
        Permission::CreatePledge {
            donor_id: input.donor_id,
        },
    )?;
    let hash = idempotency::request_hash(&input);
    let pledge = ValidPledge::parse(input)?;
    // Two attempts: on PostgreSQL a concurrent request with the same key makes our insert of
    // the key fail; the second attempt then finds and returns its response.
    for _ in 0..2 {
        let mut tx = state.db.begin().await?;
        if let Some(stored) =
            idempotency::lookup(tx.conn(), actor.user_id, CREATE_SCOPE, key, &hash).await?
        {
            return Ok((stored.status, stored.body));
        }
        check_references(&mut tx, &pledge).await?;
        let id = store::insert(tx.conn(), &pledge, actor.user_id).await?;
        let created = store::get(tx.conn(), id).await?;
        audit::record(
            tx.conn(),
            Actor::User(actor),
            "create",
            "pledge",
            id,
            None::<&()>,
            Some(&created),
        )
        .await?;
        let body = serde_json::to_value(&created).map_err(anyhow::Error::from)?;
        match idempotency::remember(
            tx.conn(),
            actor.user_id,
            CREATE_SCOPE,
            key,
            &hash,
            StatusCode::CREATED,
            &body,
        )
        .await
        {
            Err(e) if idempotency::is_concurrent_duplicate(&e) => continue,
            other => other?,
        }
        tx.commit().await?;
        return Ok((StatusCode::CREATED, body));
    }
    Err(AppError::Conflict {
        code: "idempotency_conflict",
        detail: "a request with this key is in progress".into(),
    })
}

async fn check_references(tx: &mut Tx, pledge: &ValidPledge) -> Result<(), AppError> {
    match store::organisation_kind(tx.conn(), pledge.donor_id).await? {
        Some((kind, status)) if kind == "donor" && status == "active" => {}
        _ => {
            return Err(AppError::validation(
                "donor_id",
                "unknown_value",
                "no active donor with this id",
            ))
        }
    }
    if let Some(item) = pledge.item_id {
        if !store::item_is_active(tx.conn(), item).await? {
            return Err(AppError::validation(
                "item_id",
                "unknown_value",
                "no such item in the catalogue",
            ));
        }
    }
    let unknown = store::unknown_communities(tx.conn(), &pledge.earmark).await?;
    if let Some(id) = unknown.first() {
        return Err(AppError::validation(
            "earmark.communities",
            "unknown_value",
            format!("no community {id}"),
        ));
    }
    Ok(())
}

/// The pledge, if this account may see it: a donor sees only their own (others are "not found").
pub async fn visible(state: &AppState, actor: &Principal, id: i64) -> Result<Pledge, AppError> {
    authorize(Some(actor), Permission::ReadPledges)?;
    let mut conn = state.db.pool().acquire().await?;
    let pledge = store::get(&mut conn, id).await?;
    if actor.role == Role::Donor && !actor.acts_for(pledge.donor_id) {
        return Err(AppError::NotFound);
    }
    Ok(pledge)
}

pub async fn change_status(
    state: &AppState,
    actor: &Principal,
    id: i64,
    status: PledgeStatus,
    reason: Option<String>,
) -> Result<Pledge, AppError> {
    let mut fields = crate::validate::Fields::new();
    let reason = fields.optional_text("reason", reason.as_deref(), 500);
    if status == PledgeStatus::Cancelled && reason.is_none() {
        fields.push("reason", "required", "say why the pledge is cancelled");
    }
    fields.finish()?;
    if !status.is_manual() {
        return Err(AppError::Conflict {
            code: "set_by_matching",
            detail: format!(
                "{} follows from matching and the ledgers, not from a hand edit",
                status.as_str()
            ),
        });
    }
    visible(state, actor, id).await?;
    let mut tx = state.db.begin().await?;
    let lock = tx.for_update();
    store::lock(tx.conn(), id, lock).await?;
    let before = store::get(tx.conn(), id).await?;
    authorize(
        Some(actor),
        Permission::ChangePledgeStatus {
            donor_id: before.donor_id,
            status,
        },
    )?;
    if !before.status.can_become(status) {
        return Err(AppError::Conflict {
            code: "invalid_transition",
            detail: format!(
                "a pledge that is {} cannot become {}",
                before.status.as_str(),
                status.as_str()
            ),
        });
    }
    store::set_status(tx.conn(), id, status, reason.as_deref()).await?;
    let after = store::get(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        status.as_str(),
        "pledge",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
