//! Meilisearch, through `meilisearch-sdk`, when `WEAVE_MEILI_URL` is set: one index of search
//! documents with its settings, kept in sync from the search outbox by a worker (its cursor in
//! `search_cursors`, moved only after Meilisearch has taken the documents), rebuilt whole by
//! `weave search reindex`. Chinese text is indexed with the same character and pair terms as
//! the embedded index, so both backends find the same things.

use std::time::Duration;

use meilisearch_sdk::{client::Client, indexes::Index, settings::Settings};
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::{docs, hit, notes_after, text, Doc, Query, SearchPage, KINDS};
use crate::{app::AppState, paging::Window, web::Lang};

const CURSOR: &str = "meilisearch";

/// A document as Meilisearch stores it: the search document plus its Han terms.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Stored {
    #[serde(flatten)]
    doc: Doc,
    /// Meilisearch's primary key (`kind-id`: its keys allow no colon).
    id: String,
    /// Every Han character and neighbour pair of the title and text, space separated.
    terms: String,
}

impl Stored {
    fn from(doc: Doc) -> Stored {
        let terms = text::index_terms(&format!("{} {} {}", doc.title_zh, doc.title_en, doc.text))
            .into_iter()
            .filter_map(|t| match t {
                text::Term::Han(h) => Some(h),
                text::Term::Word(_) => None,
            })
            .collect::<Vec<_>>()
            .join(" ");
        Stored {
            id: doc.key.replace(':', "-"),
            doc,
            terms,
        }
    }
}

/// A client for the configured server and the name of Weave's index there.
struct Meili {
    client: Client,
    index: String,
}

impl Meili {
    fn index(&self) -> Index {
        self.client.index(&self.index)
    }
}

fn client(state: &AppState, url: &str) -> anyhow::Result<Meili> {
    Ok(Meili {
        client: Client::new(url, state.settings.meili_key.as_deref())?,
        index: state.settings.meili_index.clone(),
    })
}

/// The indexes this process has created and configured.
static CONFIGURED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Creates the index and its settings (idempotent).
async fn configure(m: &Meili) -> anyhow::Result<()> {
    let client = &m.client;
    let task = client.create_index(&m.index, Some("id")).await?;
    task.wait_for_completion(
        client,
        Some(Duration::from_millis(50)),
        Some(Duration::from_secs(30)),
    )
    .await?;
    let settings = Settings::new()
        .with_searchable_attributes(["title_zh", "title_en", "terms", "text"])
        .with_filterable_attributes(["kind", "district", "category", "status", "acl"])
        .with_sortable_attributes(["kind", "district", "status"])
        // Every word must match (the query says so too); then fewer typos, closer words, a
        // match in the title before the text, exact before prefix.
        .with_ranking_rules([
            "words",
            "typo",
            "proximity",
            "attribute",
            "sort",
            "exactness",
        ])
        .with_displayed_attributes(["*"]);
    let task = m.index().set_settings(&settings).await?;
    task.wait_for_completion(
        client,
        Some(Duration::from_millis(50)),
        Some(Duration::from_secs(60)),
    )
    .await?;
    Ok(())
}

/// A Meilisearch query for the words typed: Han runs become their terms, words stay words.
fn query_text(q: &str) -> String {
    text::query_terms(q)
        .iter()
        .map(|t| t.text().to_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn filter(query: &Query, grants: &[String]) -> String {
    let mut parts = vec![format!(
        "acl IN [{}]",
        grants
            .iter()
            .map(|g| quote(g))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    if let Some(kind) = query.kind {
        parts.push(format!("kind = {}", quote(kind.as_str())));
    }
    for (field, value) in [
        ("district", &query.district),
        ("category", &query.category),
        ("status", &query.status),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.is_empty()) {
            parts.push(format!("{field} = {}", quote(v)));
        }
    }
    parts.join(" AND ")
}

pub async fn search(
    state: &AppState,
    url: &str,
    query: &Query,
    grants: &[String],
    lang: Lang,
) -> anyhow::Result<SearchPage> {
    let meili = client(state, url)?;
    let window = Window::new(query.page, query.per_page);
    let words = query_text(&query.q);
    if words.is_empty() {
        return Ok(SearchPage {
            items: Vec::new(),
            total: 0,
            page: window.page,
            per_page: window.per_page,
            backend: "meilisearch".into(),
        });
    }
    let filter = filter(query, grants);
    let index = meili.index();
    let results = index
        .search()
        .with_query(&words)
        .with_filter(&filter)
        .with_matching_strategy(meilisearch_sdk::search::MatchingStrategies::ALL)
        .with_offset(window.offset() as usize)
        .with_limit(window.per_page as usize)
        .execute::<Stored>()
        .await?;
    Ok(SearchPage {
        items: results
            .hits
            .iter()
            .map(|h| hit(&h.result.doc, query.q.trim(), lang))
            .collect(),
        total: results.estimated_total_hits.unwrap_or(results.hits.len()) as i64,
        page: window.page,
        per_page: window.per_page,
        backend: "meilisearch".into(),
    })
}

async fn cursor(state: &AppState) -> anyhow::Result<i64> {
    let row = sqlx::query("SELECT last_id FROM search_cursors WHERE backend = $1")
        .bind(CURSOR)
        .fetch_optional(state.db.pool())
        .await?;
    Ok(row.map(|r| r.get(0)).unwrap_or(0))
}

async fn set_cursor(state: &AppState, last: i64) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO search_cursors (backend, last_id) VALUES ($1, $2) \
         ON CONFLICT (backend) DO UPDATE SET last_id = excluded.last_id",
    )
    .bind(CURSOR)
    .bind(last)
    .execute(state.db.pool())
    .await?;
    Ok(())
}

async fn put(m: &Meili, docs: Vec<Doc>) -> anyhow::Result<()> {
    let client = &m.client;
    if docs.is_empty() {
        return Ok(());
    }
    let stored: Vec<Stored> = docs.into_iter().map(Stored::from).collect();
    let task = m.index().add_or_replace(&stored, Some("id")).await?;
    let done = task
        .wait_for_completion(
            client,
            Some(Duration::from_millis(50)),
            Some(Duration::from_secs(60)),
        )
        .await?;
    if done.is_failure() {
        anyhow::bail!(
            "Meilisearch refused the documents: {:?}",
            done.unwrap_failure()
        );
    }
    Ok(())
}

/// Sends Meilisearch every change noted since its cursor; returns how many documents went.
pub async fn sync(state: &AppState, url: &str) -> anyhow::Result<usize> {
    let meili = client(state, url)?;
    let key = format!("{url} {}", meili.index);
    if !CONFIGURED.lock().expect("not poisoned").contains(&key) {
        configure(&meili).await?;
        CONFIGURED.lock().expect("not poisoned").push(key);
    }
    let from = cursor(state).await?;
    let mut conn = state.db.pool().acquire().await?;
    let notes = notes_after(&mut conn, from, 2000).await?;
    if notes.is_empty() {
        return Ok(0);
    }
    let mut docs = Vec::new();
    for (kind, id) in super::changed(&notes) {
        docs.extend(docs::load(&mut conn, kind, Some(id)).await?);
    }
    drop(conn);
    let sent = docs.len();
    put(&meili, docs).await?;
    set_cursor(state, super::advance(from, &notes)).await?;
    Ok(sent)
}

/// Rebuilds the index from the database, reporting progress as (done, total).
pub async fn reindex(
    state: &AppState,
    url: &str,
    progress: &dyn Fn(u64, u64),
) -> anyhow::Result<u64> {
    let meili = client(state, url)?;
    configure(&meili).await?;
    let mut conn = state.db.pool().acquire().await?;
    let start: i64 = sqlx::query("SELECT CAST(COALESCE(MAX(id), 0) AS BIGINT) FROM search_outbox")
        .fetch_one(&mut *conn)
        .await?
        .get(0);
    let mut all = Vec::new();
    for kind in KINDS {
        all.extend(docs::load(&mut conn, kind, None).await?);
    }
    drop(conn);
    let total = all.len() as u64;
    let mut done = 0;
    progress(0, total);
    for chunk in all.chunks(1000) {
        put(&meili, chunk.to_vec()).await?;
        done += chunk.len() as u64;
        progress(done, total);
    }
    // Changes noted while the rebuild ran are read again by the next sync.
    set_cursor(state, (start - 1000).max(0)).await?;
    Ok(total)
}

/// The Meilisearch sync of `weave serve`: every two seconds; while Meilisearch is down the
/// notes wait and the service answers from the embedded index.
pub fn spawn_worker(state: AppState) -> Option<tokio::task::JoinHandle<()>> {
    let url = state.settings.meili_url.clone()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = sync(&state, &url).await {
                tracing::warn!(
                    error = format!("{e:#}"),
                    "Meilisearch sync waits: the notes stay in the outbox"
                );
            }
        }
    }))
}
