//! Suppliers' offers and framework agreements. Owns `/api/v1/supplier-offers`,
//! `/api/v1/agreements` and the supplier's page.

mod handlers;
pub mod model;
pub mod store;

pub use handlers::{api_router, page_router};

use model::{Agreement, AgreementInput, AgreementStatus, Offer, OfferInput};

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Permission, Principal, Role},
    db::Tx,
    error::AppError,
    needs::today,
    validate::Fields,
};

async fn check_supplier(tx: &mut Tx, supplier_id: i64) -> Result<(), AppError> {
    let found = crate::pledges::store::organisation_kind(tx.conn(), supplier_id).await?;
    match found {
        Some((kind, status)) if kind == "supplier" && status == "active" => Ok(()),
        _ => Err(AppError::validation(
            "supplier_id",
            "unknown_value",
            "no active supplier with this id",
        )),
    }
}

async fn check_item(tx: &mut Tx, item_id: i64, field: &str) -> Result<(), AppError> {
    if crate::pledges::store::item_is_active(tx.conn(), item_id).await? {
        Ok(())
    } else {
        Err(AppError::validation(
            field,
            "unknown_value",
            "no such item in the catalogue",
        ))
    }
}

/// A supplier sees only its own offers and agreements.
pub fn supplier_scope(actor: &Principal) -> Option<i64> {
    (actor.role == Role::Supplier).then(|| actor.organisation_ids.first().copied().unwrap_or(-1))
}

/// Another supplier's records are "not found" to a supplier.
pub fn check_visible(actor: &Principal, supplier_id: i64) -> Result<(), AppError> {
    if actor.role == Role::Supplier && !actor.acts_for(supplier_id) {
        Err(AppError::NotFound)
    } else {
        Ok(())
    }
}

pub async fn create_offer(
    state: &AppState,
    actor: &Principal,
    input: OfferInput,
) -> Result<Offer, AppError> {
    authorize(
        Some(actor),
        Permission::OfferForSupplier {
            supplier_id: input.supplier_id,
        },
    )?;
    let terms = input.terms();
    let mut f = Fields::new();
    terms.check(&mut f, "");
    f.finish()?;
    let mut tx = state.db.begin().await?;
    check_supplier(&mut tx, input.supplier_id).await?;
    check_item(&mut tx, terms.item_id, "item_id").await?;
    let id = store::insert_offer(tx.conn(), input.supplier_id, None, &terms).await?;
    let offer = store::get_offer(tx.conn(), id, today()).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "create",
        "supplier_offer",
        id,
        None::<&()>,
        Some(&offer),
    )
    .await?;
    tx.commit().await?;
    Ok(offer)
}

pub async fn withdraw_offer(
    state: &AppState,
    actor: &Principal,
    id: i64,
) -> Result<Offer, AppError> {
    let mut tx = state.db.begin().await?;
    let before = store::get_offer(tx.conn(), id, today()).await?;
    check_visible(actor, before.supplier_id)?;
    authorize(
        Some(actor),
        Permission::OfferForSupplier {
            supplier_id: before.supplier_id,
        },
    )?;
    if before.status == model::OfferStatus::Withdrawn {
        return Err(AppError::Conflict {
            code: "already_withdrawn",
            detail: "this offer is already withdrawn".into(),
        });
    }
    store::withdraw_offer(tx.conn(), id).await?;
    let after = store::get_offer(tx.conn(), id, today()).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "withdraw",
        "supplier_offer",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Records a framework agreement, dormant until a hub activates it.
pub async fn create_agreement(
    state: &AppState,
    actor: &Principal,
    mut input: AgreementInput,
) -> Result<Agreement, AppError> {
    authorize(Some(actor), Permission::ManageAgreements)?;
    input.check()?;
    let mut tx = state.db.begin().await?;
    check_supplier(&mut tx, input.supplier_id).await?;
    for (i, offer) in input.offers.iter().enumerate() {
        check_item(&mut tx, offer.item_id, &format!("offers[{i}].item_id")).await?;
    }
    let id = store::insert_agreement(
        tx.conn(),
        input.supplier_id,
        &input.title,
        input.valid_until,
        input.note.as_deref(),
    )
    .await?;
    for offer in &input.offers {
        store::insert_offer(tx.conn(), input.supplier_id, Some(id), offer).await?;
    }
    let agreement = store::get_agreement(tx.conn(), id, today()).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "create",
        "agreement",
        id,
        None::<&()>,
        Some(&agreement),
    )
    .await?;
    tx.commit().await?;
    Ok(agreement)
}

/// Activates a dormant agreement (an emergency has started) or ends an active one.
pub async fn change_agreement(
    state: &AppState,
    actor: &Principal,
    id: i64,
    to: AgreementStatus,
    reason: &str,
) -> Result<Agreement, AppError> {
    authorize(Some(actor), Permission::ManageAgreements)?;
    let mut f = Fields::new();
    let reason = f.required_text("reason", reason, 500);
    f.finish()?;
    let mut tx = state.db.begin().await?;
    let lock = tx.for_update();
    store::lock_agreement(tx.conn(), id, lock).await?;
    let before = store::get_agreement(tx.conn(), id, today()).await?;
    let allowed = matches!(
        (before.status, to),
        (AgreementStatus::Dormant, AgreementStatus::Active)
            | (
                AgreementStatus::Dormant | AgreementStatus::Active,
                AgreementStatus::Ended
            )
    );
    if !allowed {
        return Err(AppError::Conflict {
            code: "invalid_transition",
            detail: format!(
                "an agreement that is {} cannot become {}",
                before.status.as_str(),
                to.as_str()
            ),
        });
    }
    match to {
        AgreementStatus::Active => store::activate(tx.conn(), id, actor.user_id, &reason).await?,
        _ => store::end(tx.conn(), id, &reason).await?,
    }
    let after = store::get_agreement(tx.conn(), id, today()).await?;
    let action = if to == AgreementStatus::Active {
        "activate"
    } else {
        "end"
    };
    audit::record(
        tx.conn(),
        Actor::User(actor),
        action,
        "agreement",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
