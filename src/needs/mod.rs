//! Needs: what communities ask for. Owns `/api/v1/needs` and the needs pages.

mod handlers;
pub mod import;
pub mod model;
mod pages;
pub mod store;

pub use handlers::api_router;
pub use pages::page_router;

use chrono::NaiveDate;
use model::{Need, NeedInput, NeedStatus, ValidNeed};

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Permission, Principal},
    db::Tx,
    error::AppError,
};

/// Today in the hubs' time zone (the daily cycle runs on Asia/Shanghai time).
pub fn today() -> NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
}

/// Rules that need the database: the community exists and is a community, the item or kit
/// exists and is active, and subsidy items (and only they) carry headcount × days × rate.
async fn check_against_registry(tx: &mut Tx, need: &ValidNeed) -> Result<String, AppError> {
    let community = sqlx::query_as::<_, (String, String, String)>(
        "SELECT kind, district, status FROM organisations WHERE id = $1",
    )
    .bind(need.community_id)
    .fetch_optional(tx.conn())
    .await?;
    let district = match community {
        Some((kind, district, status)) if kind == "community" && status == "active" => district,
        _ => {
            return Err(AppError::validation(
                "community_id",
                "unknown_value",
                "no active community with this id",
            ))
        }
    };
    let field = if need.item_id.is_some() {
        "item_id"
    } else {
        "kit_id"
    };
    let requested = store::requested(tx.conn(), need.item_id, need.kit_id).await?;
    let Some(requested) = requested.filter(|r| r.active) else {
        return Err(AppError::validation(
            field,
            "unknown_value",
            "no such item or kit in the catalogue",
        ));
    };
    let is_subsidy = requested.category.as_deref() == Some("subsidy");
    match (is_subsidy, need.subsidy.is_some()) {
        (true, false) => Err(AppError::validation(
            "subsidy",
            "required",
            "a subsidy needs headcount, days and rate",
        )),
        (false, true) => Err(AppError::validation(
            "subsidy",
            "invalid",
            "only subsidy items take headcount × days × rate",
        )),
        _ => Ok(district),
    }
}

pub async fn create(
    state: &AppState,
    actor: &Principal,
    input: NeedInput,
) -> Result<Need, AppError> {
    let mut tx = state.db.begin().await?;
    let created = create_in(&mut tx, actor, input).await?;
    tx.commit().await?;
    Ok(created)
}

/// Posts one need inside the caller's transaction (a sheet import posts many in one).
pub async fn create_in(tx: &mut Tx, actor: &Principal, input: NeedInput) -> Result<Need, AppError> {
    authorize(
        Some(actor),
        Permission::PostNeed {
            community_id: input.community_id,
        },
    )?;
    let need = ValidNeed::parse(input, today())?;
    let district = check_against_registry(tx, &need).await?;
    let id = store::insert(tx.conn(), &need, &district, Some(actor.user_id)).await?;
    let created = store::get(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "create",
        "need",
        id,
        None::<&()>,
        Some(&created),
    )
    .await?;
    Ok(created)
}

/// Replaces a need's request while it is not yet in delivery; the old record is kept as a version.
pub async fn update(
    state: &AppState,
    actor: &Principal,
    id: i64,
    input: NeedInput,
) -> Result<Need, AppError> {
    let need = ValidNeed::parse(input, today())?;
    let mut tx = state.db.begin().await?;
    let lock = tx.for_update();
    store::lock(tx.conn(), id, lock).await?;
    let before = store::get(tx.conn(), id).await?;
    authorize(
        Some(actor),
        Permission::PostNeed {
            community_id: before.community_id,
        },
    )?;
    authorize(
        Some(actor),
        Permission::PostNeed {
            community_id: need.community_id,
        },
    )?;
    if !before.status.is_editable() {
        return Err(AppError::Conflict {
            code: "need_not_editable",
            detail: format!(
                "a need that is {} can no longer be edited",
                before.status.as_str()
            ),
        });
    }
    let district = check_against_registry(&mut tx, &need).await?;
    store::update(tx.conn(), &before, &need, &district, actor.user_id).await?;
    let after = store::get(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "update",
        "need",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

pub async fn change_status(
    state: &AppState,
    actor: &Principal,
    id: i64,
    status: NeedStatus,
    reason: Option<String>,
) -> Result<Need, AppError> {
    let mut fields = crate::validate::Fields::new();
    let reason = fields.optional_text("reason", reason.as_deref(), 500);
    if status.needs_reason() && reason.is_none() {
        fields.push(
            "reason",
            "required",
            format!("say why the need is {}", status.as_str()),
        );
    }
    fields.finish()?;
    if !status.is_manual() {
        return Err(AppError::Conflict {
            code: "set_by_matching",
            detail: format!(
                "{} is set by confirming a matching plan, not by hand",
                status.as_str()
            ),
        });
    }
    let mut tx = state.db.begin().await?;
    let lock = tx.for_update();
    store::lock(tx.conn(), id, lock).await?;
    let before = store::get(tx.conn(), id).await?;
    authorize(
        Some(actor),
        Permission::ChangeNeedStatus {
            community_id: before.community_id,
            status,
        },
    )?;
    if !before.status.can_become(status) {
        return Err(AppError::Conflict {
            code: "invalid_transition",
            detail: format!(
                "a need that is {} cannot become {}",
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
        "need",
        id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Posts every row of a sheet in one transaction. In `all_or_nothing` mode one bad row means
/// nothing is created and the whole report comes back as a 422 problem.
pub async fn import_sheet(
    state: &AppState,
    actor: &Principal,
    bytes: &[u8],
    xlsx: bool,
    mode: import::ImportMode,
    community_id: Option<i64>,
) -> Result<import::ImportReport, AppError> {
    use import::{ImportMode, ImportReport, RowResult};
    let rows = import::read_sheet(bytes, xlsx)?;
    let columns = import::columns(&rows)?;
    let default_community = community_id.or_else(|| match actor.organisation_ids.as_slice() {
        [only] if actor.role == crate::auth::Role::CommunitySecretary => Some(*only),
        _ => None,
    });
    let mut tx = state.db.begin().await?;
    let lookup = store::lookup(tx.conn()).await?;
    let mut results = Vec::with_capacity(rows.len().saturating_sub(1));
    for (i, row) in rows.iter().enumerate().skip(1) {
        let outcome = match import::parse_row(row, &columns, &lookup, default_community) {
            Ok(input) => create_in(&mut tx, actor, input).await.map_err(row_errors),
            Err(errors) => Err(errors),
        };
        results.push(match outcome {
            Ok(need) => RowResult {
                row: i + 1,
                status: "created".into(),
                need: Some(need),
                errors: vec![],
            },
            Err(errors) => RowResult {
                row: i + 1,
                status: "error".into(),
                need: None,
                errors,
            },
        });
    }
    let rejected = results.iter().filter(|r| r.status == "error").count();
    if rejected > 0 && mode == ImportMode::AllOrNothing {
        drop(tx);
        for r in results.iter_mut().filter(|r| r.status == "created") {
            r.status = "valid".into();
            r.need = None;
        }
        let report = ImportReport {
            mode,
            created: 0,
            rejected,
            rows: results,
        };
        let report = serde_json::to_value(&report).map_err(anyhow::Error::from)?;
        return Err(AppError::SheetRejected { rejected, report });
    }
    tx.commit().await?;
    Ok(ImportReport {
        mode,
        created: results.len() - rejected,
        rejected,
        rows: results,
    })
}

/// A row's problem as field errors; anything else (a database failure) aborts the import.
fn row_errors(error: AppError) -> Vec<crate::error::FieldError> {
    use crate::error::FieldError;
    match error {
        AppError::Validation(errors) => errors,
        AppError::Forbidden => vec![FieldError::new(
            "community",
            "forbidden",
            "you may not post needs for this community",
        )],
        other => vec![FieldError::new("", "failed", other.to_string())],
    }
}
