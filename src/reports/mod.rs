//! The foundation's deliverables, produced from the ledgers: donor feedback (pages, share
//! links, email batches), the project closing report, and the public transparency page.
//! Owns the feedback, closing-report and public endpoints.

pub mod charts;
pub mod closing;
pub mod feedback;
mod handlers;
mod pages;

pub use handlers::api_router;
pub use pages::{page_router, render_closing};

use axum::http::StatusCode;
use base64::Engine;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::{
    app::AppState,
    audit::{self, Actor},
    auth::{authorize, Permission, Principal, Role},
    db::{self, Tx},
    error::AppError,
    idempotency,
    money::Money,
    notify,
    web::Lang,
};

/// The gift's feedback, if this account may see it: a donor only their own (others are 404).
pub async fn visible_gift(
    conn: &mut AnyConnection,
    actor: &Principal,
    pledge: i64,
) -> Result<feedback::GiftFeedback, AppError> {
    let gift = feedback::gift(conn, pledge).await?;
    if actor.role == Role::Donor && !actor.acts_for(gift.donor_id) {
        return Err(AppError::NotFound);
    }
    authorize(
        Some(actor),
        Permission::ReadFeedback {
            donor_id: gift.donor_id,
        },
    )?;
    Ok(gift)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ShareLink {
    pub id: i64,
    pub pledge_id: i64,
    /// Only in the answer that creates the link: the token is not kept, only its hash.
    pub url: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub revoked_at: Option<String>,
    pub active: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareInput {
    /// 1 to 365 days; default 30.
    pub expires_in_days: Option<i64>,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn link_from(r: &sqlx::any::AnyRow, now: &str) -> ShareLink {
    let revoked_at: Option<String> = r.get("revoked_at");
    let expires_at: String = r.get("expires_at");
    ShareLink {
        id: r.get("id"),
        pledge_id: r.get("pledge_id"),
        url: None,
        created_at: r.get("created_at"),
        active: revoked_at.is_none() && expires_at.as_str() > now,
        expires_at,
        revoked_at,
    }
}

/// Creates an unguessable, expiring read-only link to one gift's feedback.
pub async fn share(
    state: &AppState,
    actor: &Principal,
    pledge: i64,
    input: ShareInput,
) -> Result<ShareLink, AppError> {
    let days = input.expires_in_days.unwrap_or(30);
    if !(1..=365).contains(&days) {
        return Err(AppError::validation(
            "expires_in_days",
            "out_of_range",
            "must be between 1 and 365",
        ));
    }
    let mut tx = state.db.begin().await?;
    let gift = visible_gift(tx.conn(), actor, pledge).await?;
    authorize(
        Some(actor),
        Permission::ShareFeedback {
            donor_id: gift.donor_id,
        },
    )?;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = chrono::Utc::now();
    let expires =
        (now + chrono::Duration::days(days)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let id: i64 = sqlx::query(
        "INSERT INTO share_links (pledge_id, token_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(pledge)
    .bind(token_hash(&token))
    .bind(actor.user_id)
    .bind(db::now())
    .bind(&expires)
    .fetch_one(tx.conn())
    .await?
    .get(0);
    let mut link = link(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "share",
        "pledge",
        pledge,
        None::<&()>,
        Some(&link),
    )
    .await?;
    tx.commit().await?;
    link.url = Some(format!(
        "{}/shared/{token}",
        state.settings.public_url.trim_end_matches('/')
    ));
    Ok(link)
}

async fn link(conn: &mut AnyConnection, id: i64) -> Result<ShareLink, AppError> {
    let row = sqlx::query(
        "SELECT id, pledge_id, created_at, expires_at, revoked_at FROM share_links WHERE id = $1",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(link_from(&row, &db::now()))
}

pub async fn links(conn: &mut AnyConnection, pledge: i64) -> Result<Vec<ShareLink>, AppError> {
    let now = db::now();
    let rows = sqlx::query(
        "SELECT id, pledge_id, created_at, expires_at, revoked_at FROM share_links WHERE pledge_id = $1 ORDER BY id DESC",
    )
    .bind(pledge)
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(|r| link_from(r, &now)).collect())
}

/// Revokes a share link at once; the page it opened answers 404 from then on.
pub async fn revoke(state: &AppState, actor: &Principal, id: i64) -> Result<ShareLink, AppError> {
    let mut tx = state.db.begin().await?;
    let before = link(tx.conn(), id).await?;
    let gift = visible_gift(tx.conn(), actor, before.pledge_id).await?;
    authorize(
        Some(actor),
        Permission::ShareFeedback {
            donor_id: gift.donor_id,
        },
    )?;
    sqlx::query("UPDATE share_links SET revoked_at = COALESCE(revoked_at, $1) WHERE id = $2")
        .bind(db::now())
        .bind(id)
        .execute(tx.conn())
        .await?;
    let after = link(tx.conn(), id).await?;
    audit::record(
        tx.conn(),
        Actor::User(actor),
        "revoke_share",
        "pledge",
        before.pledge_id,
        Some(&before),
        Some(&after),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// The gift a share token opens, if the link is live.
pub async fn shared_pledge(conn: &mut AnyConnection, token: &str) -> Result<i64, AppError> {
    let row = sqlx::query(
        "SELECT pledge_id FROM share_links WHERE token_hash = $1 AND revoked_at IS NULL AND expires_at > $2",
    )
    .bind(token_hash(token))
    .bind(db::now())
    .fetch_optional(conn)
    .await?;
    row.map(|r| r.get(0)).ok_or(AppError::NotFound)
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchInput {
    /// `zh-CN` (default) or `en`.
    pub lang: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Skipped {
    pub donor_id: i64,
    pub donor_name: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Batch {
    pub batch_id: i64,
    pub project_id: i64,
    /// Messages queued in the outbox, one per donor.
    pub messages: i64,
    pub skipped: Vec<Skipped>,
}

const BATCH_SCOPE: &str = "POST /api/v1/projects/{id}/feedback-batch";

/// Queues one feedback email to every donor of the project (those whose money it received or
/// whose goods are earmarked for it), in one transaction. Once per `Idempotency-Key`.
pub async fn feedback_batch(
    state: &AppState,
    actor: &Principal,
    key: &str,
    project: i64,
    input: BatchInput,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    authorize(Some(actor), Permission::Report)?;
    let lang = Lang::parse(input.lang.as_deref().unwrap_or("zh-CN"))
        .ok_or_else(|| AppError::validation("lang", "unknown_value", "must be zh-CN or en"))?;
    let hash = idempotency::request_hash(&(project, lang.code()));
    idempotency::once(&state.db, actor.user_id, BATCH_SCOPE, key, &hash, |tx| {
        Box::pin(queue_batch(tx, state.clone(), actor.clone(), project, lang))
    })
    .await
}

async fn queue_batch(
    tx: &mut Tx,
    state: AppState,
    actor: Principal,
    project: i64,
    lang: Lang,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let found = crate::funds::store::project(tx.conn(), project)
        .await
        .map_err(|_| AppError::NotFound)?;
    let pledges = closing::project_pledge_ids(tx.conn(), &found).await?;
    let batch: i64 = sqlx::query(
        "INSERT INTO feedback_batches (project_id, lang, messages, created_by, created_at) VALUES ($1, $2, 0, $3, $4) RETURNING id",
    )
    .bind(project)
    .bind(lang.code())
    .bind(actor.user_id)
    .bind(db::now())
    .fetch_one(tx.conn())
    .await?
    .get(0);
    let mut by_donor: std::collections::BTreeMap<i64, Vec<feedback::GiftFeedback>> =
        Default::default();
    for pledge in pledges {
        let gift = feedback::gift(tx.conn(), pledge).await?;
        by_donor.entry(gift.donor_id).or_default().push(gift);
    }
    let mut messages = 0;
    let mut skipped = Vec::new();
    for (donor, gifts) in by_donor {
        let row =
            sqlx::query("SELECT name_zh, name_en, contact_email FROM organisations WHERE id = $1")
                .bind(donor)
                .fetch_one(tx.conn())
                .await?;
        let name: String = match (lang, row.get::<Option<String>, _>("name_en")) {
            (Lang::En, Some(en)) => en,
            _ => row.get("name_zh"),
        };
        let Some(email) = row
            .get::<Option<String>, _>("contact_email")
            .filter(|e| e.contains('@'))
        else {
            skipped.push(Skipped {
                donor_id: donor,
                donor_name: name,
                reason: "no email address on the donor's record".into(),
            });
            continue;
        };
        let values = minijinja::context! {
            donor_name => &name,
            project => minijinja::Value::from_serialize(&found),
            gifts => minijinja::Value::from_serialize(&gifts),
            public_url => state.settings.public_url.trim_end_matches('/'),
        };
        let subject = state
            .pages
            .text(lang, "feedback_subject")
            .replace("{project}", &found.name_zh);
        let body_html = state
            .pages
            .render_in(lang, "email/feedback.html", values.clone())?;
        let body_text = state.pages.render_in(lang, "email/feedback.txt", values)?;
        let queued = notify::enqueue(
            tx.conn(),
            notify::NewMessage {
                dedupe_key: format!("feedback:{batch}:{donor}"),
                to_address: &email,
                to_name: Some(&name),
                subject,
                body_text,
                body_html,
                related: Some(("donor", donor)),
                batch: Some(batch),
            },
        )
        .await?;
        messages += i64::from(queued);
    }
    sqlx::query("UPDATE feedback_batches SET messages = $1, skipped_json = $2 WHERE id = $3")
        .bind(messages)
        .bind(serde_json::to_string(&skipped).unwrap_or_else(|_| "[]".into()))
        .bind(batch)
        .execute(tx.conn())
        .await?;
    let result = Batch {
        batch_id: batch,
        project_id: project,
        messages,
        skipped,
    };
    audit::record(
        tx.conn(),
        Actor::User(&actor),
        "feedback_batch",
        "project",
        project,
        None::<&()>,
        Some(&result),
    )
    .await?;
    let body = serde_json::to_value(&result).map_err(anyhow::Error::from)?;
    Ok((StatusCode::CREATED, body))
}

/// What anyone may see of a project: no personal data, only totals.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicProject {
    pub id: i64,
    pub name_zh: String,
    pub name_en: Option<String>,
    pub area: String,
    pub starts_on: String,
    pub ends_on: String,
    pub raised: Money,
    pub spent: Money,
    pub lines: Vec<PublicLine>,
    /// Units delivered (confirmed by the communities), by category.
    pub delivered: Vec<PublicDelivered>,
    pub communities_reached: i64,
    /// Names of the communities reached (organisations, not people).
    pub communities: Vec<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicLine {
    pub category: String,
    pub budget: Money,
    pub spent: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PublicDelivered {
    pub category: String,
    pub units: i64,
}

pub async fn public_project(conn: &mut AnyConnection, id: i64) -> Result<PublicProject, AppError> {
    let f = closing::figures(conn, id).await?;
    let p = &f.project;
    Ok(PublicProject {
        id,
        name_zh: p.name_zh.clone(),
        name_en: p.name_en.clone(),
        area: p.area.clone(),
        starts_on: p.starts_on.clone(),
        ends_on: p.ends_on.clone(),
        raised: p.received,
        spent: p.spent,
        lines: p
            .budget_lines
            .iter()
            .map(|l| PublicLine {
                category: l.category.clone(),
                budget: l.budget,
                spent: l.spent,
            })
            .collect(),
        delivered: f
            .services
            .iter()
            .map(|(category, _, units)| PublicDelivered {
                category: category.clone(),
                units: *units,
            })
            .collect(),
        communities_reached: f.communities.len() as i64,
        communities: f.communities.iter().map(|c| c.0.clone()).collect(),
        updated_at: db::now(),
    })
}
