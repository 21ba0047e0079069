//! Search across the resource network — organisations, needs, pledges, supplier offers and
//! items — in Chinese and English, with the permissions of the reader. The embedded index
//! (in memory, no service) answers by default; Meilisearch answers when configured, with the
//! embedded index as the fallback while it is down. Both are kept in sync from the database by
//! the `search_outbox` notes that triggers write in the same transaction as each change.
//! Owns `/api/v1/search` and `/search`.

mod docs;
pub mod embedded;
mod handlers;
pub mod meili;
mod pages;
pub mod text;

pub use handlers::api_router;
pub use pages::page_router;

use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use tokio::sync::Mutex;
use utoipa::{IntoParams, ToSchema};

use crate::{
    app::AppState,
    auth::{Principal, Role},
    error::AppError,
    paging::Window,
};

text_enum!(
    /// What a result is.
    Kind { Organisation = "organisation", Item = "item", Need = "need", Pledge = "pledge", Offer = "offer" }
);

impl Kind {
    /// The order of kinds among results that match equally well.
    pub fn rank(self) -> u8 {
        match self {
            Kind::Organisation => 0,
            Kind::Item => 1,
            Kind::Need => 2,
            Kind::Pledge => 3,
            Kind::Offer => 4,
        }
    }
}

/// A searchable record.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Doc {
    /// `kind:id`, unique.
    pub key: String,
    pub kind: Kind,
    pub record_id: i64,
    pub title_zh: String,
    pub title_en: String,
    pub text: String,
    pub district: String,
    pub category: String,
    pub status: String,
    /// Who may find it (see `docs::load`).
    pub acl: Vec<String>,
    pub link: String,
}

/// A query with its filters.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Query {
    /// The words typed: Chinese, English or both.
    #[serde(default)]
    pub q: String,
    pub kind: Option<Kind>,
    pub district: Option<String>,
    /// An item category (protective, disinfection, …), `money` for money pledges, or an
    /// organisation kind (community, donor, …).
    pub category: Option<String>,
    pub status: Option<String>,
    pub page: Option<i64>,
    pub per_page: Option<i64>,
}

impl Query {
    pub fn admits(&self, doc: &Doc) -> bool {
        let empty = |v: &Option<String>| v.as_deref().is_none_or(|s| s.is_empty());
        self.kind.is_none_or(|k| k == doc.kind)
            && (empty(&self.district) || self.district.as_deref() == Some(doc.district.as_str()))
            && (empty(&self.category) || self.category.as_deref() == Some(doc.category.as_str()))
            && (empty(&self.status) || self.status.as_deref() == Some(doc.status.as_str()))
    }
}

/// The ACL entries a reader holds.
pub fn grants(actor: Option<&Principal>) -> Vec<String> {
    let mut grants = vec!["public".to_owned()];
    let Some(p) = actor else { return grants };
    grants.push("signed_in".into());
    match p.role {
        Role::Admin | Role::HubCoordinator | Role::FoundationStaff => grants.push("staff".into()),
        Role::Donor => grants.extend(p.organisation_ids.iter().map(|o| format!("donor:{o}"))),
        Role::Supplier => grants.extend(p.organisation_ids.iter().map(|o| format!("supplier:{o}"))),
        Role::CommunitySecretary => {}
    }
    grants
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    pub kind: Kind,
    pub id: i64,
    pub title: String,
    /// The text around what matched.
    pub snippet: String,
    pub link: String,
    pub district: String,
    pub category: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchPage {
    pub items: Vec<SearchHit>,
    pub total: i64,
    pub page: i64,
    pub per_page: i64,
    /// `embedded` or `meilisearch`: which backend answered.
    pub backend: String,
}

/// The embedded index of this process and how far it has read the outbox.
#[derive(Default)]
pub struct Embedded {
    index: embedded::Index,
    cursor: Option<i64>,
}

/// The search service held in the app state.
#[derive(Default)]
pub struct Search {
    embedded: Mutex<Embedded>,
}

const KINDS: [Kind; 5] = [
    Kind::Organisation,
    Kind::Item,
    Kind::Need,
    Kind::Pledge,
    Kind::Offer,
];

/// Notes in the outbox after `cursor`, oldest first.
pub async fn notes_after(
    conn: &mut AnyConnection,
    cursor: i64,
    limit: i64,
) -> Result<Vec<(i64, Kind, i64, String)>, sqlx::Error> {
    let rows = sqlx::query(&format!(
        "SELECT id, kind, record_id, created_at FROM search_outbox WHERE id > $1 ORDER BY id LIMIT {limit}"
    ))
    .bind(cursor)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some((
                r.get(0),
                Kind::parse(&r.get::<String, _>(1))?,
                r.get(2),
                r.get(3),
            ))
        })
        .collect())
}

/// The records the notes name, each once however often it changed.
pub fn changed(notes: &[(i64, Kind, i64, String)]) -> std::collections::BTreeSet<(Kind, i64)> {
    notes.iter().map(|(_, kind, id, _)| (*kind, *id)).collect()
}

/// Outbox ids can commit out of order on PostgreSQL; a cursor only moves past notes older than
/// this, so a note that commits late behind a newer one is still read.
const SETTLE_SECS: i64 = 10;

/// The cursor after reading `notes`: past every note that has settled, else where it was.
pub fn advance(cursor: i64, notes: &[(i64, Kind, i64, String)]) -> i64 {
    let settled = (chrono::Utc::now() - chrono::Duration::seconds(SETTLE_SECS))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let mut next = cursor;
    for (id, _, _, at) in notes {
        if *at > settled {
            break;
        }
        next = *id;
    }
    next
}

impl Search {
    /// Brings the embedded index up to date: everything on first use, then the outbox notes.
    pub async fn catch_up(&self, conn: &mut AnyConnection) -> Result<(), sqlx::Error> {
        let mut e = self.embedded.lock().await;
        let cursor = match e.cursor {
            Some(c) => c,
            None => {
                let start: i64 =
                    sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM search_outbox")
                        .fetch_one(&mut *conn)
                        .await?
                        .get(0);
                for kind in KINDS {
                    for doc in docs::load(conn, kind, None).await? {
                        e.index.put(doc);
                    }
                }
                // Notes up to `start` may still be committing: read them again once.
                (start - 1000).max(0)
            }
        };
        let notes = notes_after(conn, cursor, 5000).await?;
        for (kind, id) in changed(&notes) {
            for doc in docs::load(conn, kind, Some(id)).await? {
                e.index.put(doc);
            }
        }
        e.cursor = Some(advance(cursor, &notes));
        Ok(())
    }

    /// Searches the embedded index.
    pub async fn embedded_search(
        &self,
        conn: &mut AnyConnection,
        query: &Query,
        grants: &[String],
        lang: crate::web::Lang,
    ) -> Result<SearchPage, AppError> {
        self.catch_up(conn).await?;
        let e = self.embedded.lock().await;
        let may_see = |doc: &Doc| doc.acl.iter().any(|a| grants.contains(a));
        let hits = e.index.search(query, &may_see);
        let window = Window::new(query.page, query.per_page);
        let items = hits
            .iter()
            .skip(window.offset() as usize)
            .take(window.per_page as usize)
            .map(|h| hit(h.doc, &h.matched, lang))
            .collect();
        Ok(SearchPage {
            items,
            total: hits.len() as i64,
            page: window.page,
            per_page: window.per_page,
            backend: "embedded".into(),
        })
    }

    pub async fn suggest(
        &self,
        conn: &mut AnyConnection,
        prefix: &str,
        grants: &[String],
        lang: crate::web::Lang,
    ) -> Result<Vec<SearchHit>, AppError> {
        self.catch_up(conn).await?;
        let e = self.embedded.lock().await;
        let may_see = |doc: &Doc| doc.acl.iter().any(|a| grants.contains(a));
        Ok(e.index
            .suggest(prefix, &may_see, 8)
            .into_iter()
            .map(|d| hit(d, prefix, lang))
            .collect())
    }
}

/// A result as the reader sees it: the title in their language, a snippet around the match.
pub fn hit(doc: &Doc, matched: &str, lang: crate::web::Lang) -> SearchHit {
    let title = match lang {
        crate::web::Lang::En if !doc.title_en.trim_matches([' ', '·']).is_empty() => {
            doc.title_en.clone()
        }
        _ => doc.title_zh.clone(),
    };
    SearchHit {
        kind: doc.kind,
        id: doc.record_id,
        title,
        snippet: snippet(&format!("{} {}", doc.title_zh, doc.text), matched),
        link: doc.link.clone(),
        district: doc.district.clone(),
        category: doc.category.clone(),
        status: doc.status.clone(),
    }
}

/// About 40 characters of the text around the first place `matched` appears.
pub fn snippet(text: &str, matched: &str) -> String {
    let lower = text.to_lowercase();
    let chars: Vec<char> = text.chars().collect();
    let at = lower
        .find(&matched.to_lowercase())
        .map(|byte| lower[..byte].chars().count())
        .unwrap_or(0);
    let start = at.saturating_sub(15);
    let end = (at + 25).min(chars.len());
    let mut out: String = chars[start..end].iter().collect();
    if start > 0 {
        out.insert(0, '…');
    }
    if end < chars.len() {
        out.push('…');
    }
    out
}

/// Searches with the configured backend: Meilisearch when set and answering, else the
/// embedded index (with a warning when Meilisearch failed).
pub async fn search(
    state: &AppState,
    actor: Option<&Principal>,
    query: &Query,
    lang: crate::web::Lang,
) -> Result<SearchPage, AppError> {
    let q = query.q.trim();
    if q.chars().count() > 200 {
        return Err(AppError::validation(
            "q",
            "too_long",
            "must be at most 200 characters",
        ));
    }
    let grants = grants(actor);
    if let Some(meili) = state.settings.meili_url.as_deref() {
        match meili::search(state, meili, query, &grants, lang).await {
            Ok(page) => return Ok(page),
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "Meilisearch is not answering; searching the embedded index"
            ),
        }
    }
    let mut conn = state.db.pool().acquire().await?;
    state
        .search
        .embedded_search(&mut conn, query, &grants, lang)
        .await
}
