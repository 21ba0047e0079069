//! Email through a durable outbox. A message is written to `outbox` in the same transaction
//! as what caused it; a worker in `weave serve` sends what is due, over SMTP (lettre) when a
//! server is configured, else as an `.eml` file under `<data dir>/outbox`. Failures are
//! retried with exponential backoff and kept with their error; nothing is lost and nothing is
//! sent twice by two replicas (a message is claimed by a conditional update). Owns
//! `/api/v1/outbox`.

mod handlers;

pub use handlers::api_router;

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::{
    message::{header::ContentType, Mailbox, MultiPart, SinglePart},
    transport::smtp::authentication::Credentials,
    AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};
use utoipa::ToSchema;

use crate::{app::AppState, config::SmtpTls, error::AppError};

/// After this many failed attempts a message is marked failed (and stays visible).
pub const MAX_ATTEMPTS: i64 = 8;
/// The first retry waits this long; each next one twice as long, at most an hour.
const FIRST_RETRY_SECS: i64 = 30;
/// How long a claimed message is reserved for the sender before another may try.
const CLAIM_SECS: i64 = 120;

text_enum!(
    OutboxStatus { Pending = "pending", Sending = "sending", Sent = "sent", Failed = "failed" }
);

/// A message to queue.
pub struct NewMessage<'a> {
    /// Unique per intended message: queueing the same key twice adds nothing.
    pub dedupe_key: String,
    pub to_address: &'a str,
    pub to_name: Option<&'a str>,
    pub subject: String,
    pub body_text: String,
    pub body_html: String,
    pub related: Option<(&'a str, i64)>,
    pub batch: Option<i64>,
}

fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Queues a message in the caller's transaction. Returns false when its key was queued before.
pub async fn enqueue(
    conn: &mut AnyConnection,
    message: NewMessage<'_>,
) -> Result<bool, sqlx::Error> {
    let now = stamp(Utc::now());
    let done = sqlx::query(
        "INSERT INTO outbox (dedupe_key, to_address, to_name, subject, body_text, body_html, next_attempt_at, \
         related_type, related_id, batch_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (dedupe_key) DO NOTHING",
    )
    .bind(&message.dedupe_key)
    .bind(message.to_address)
    .bind(message.to_name)
    .bind(&message.subject)
    .bind(&message.body_text)
    .bind(&message.body_html)
    .bind(&now)
    .bind(message.related.map(|r| r.0))
    .bind(message.related.map(|r| r.1))
    .bind(message.batch)
    .bind(&now)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct OutboxMessage {
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: String,
    pub last_error: Option<String>,
    /// `smtp` or `file` once sent.
    pub delivered_via: Option<String>,
    pub related_type: Option<String>,
    pub related_id: Option<i64>,
    pub batch_id: Option<i64>,
    pub created_at: String,
    pub sent_at: Option<String>,
}

const MESSAGE_COLUMNS: &str =
    "id, to_address, subject, status, attempts, next_attempt_at, last_error, delivered_via, \
     related_type, related_id, batch_id, created_at, sent_at";

fn message_from(r: &sqlx::any::AnyRow) -> OutboxMessage {
    OutboxMessage {
        id: r.get("id"),
        to_address: r.get("to_address"),
        subject: r.get("subject"),
        status: OutboxStatus::parse(&r.get::<String, _>("status")).unwrap_or(OutboxStatus::Pending),
        attempts: r.get("attempts"),
        next_attempt_at: r.get("next_attempt_at"),
        last_error: r.get("last_error"),
        delivered_via: r.get("delivered_via"),
        related_type: r.get("related_type"),
        related_id: r.get("related_id"),
        batch_id: r.get("batch_id"),
        created_at: r.get("created_at"),
        sent_at: r.get("sent_at"),
    }
}

/// Messages, newest first, optionally of one status or one batch.
pub async fn list(
    conn: &mut AnyConnection,
    status: Option<OutboxStatus>,
    batch: Option<i64>,
    limit: i64,
) -> Result<Vec<OutboxMessage>, AppError> {
    let rows = sqlx::query(&format!(
        "SELECT {MESSAGE_COLUMNS} FROM outbox WHERE ($1 = '' OR status = $1) AND ($2 = 0 OR batch_id = $2) \
         ORDER BY id DESC LIMIT {limit}"
    ))
    .bind(status.map(|s| s.as_str()).unwrap_or(""))
    .bind(batch.unwrap_or(0))
    .fetch_all(conn)
    .await?;
    Ok(rows.iter().map(message_from).collect())
}

/// Where sent mail goes.
enum Sender {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

impl Sender {
    fn from_settings(state: &AppState) -> anyhow::Result<Sender> {
        let s = &state.settings;
        let Some(host) = &s.smtp_host else {
            let dir = s.data_dir.join("outbox");
            std::fs::create_dir_all(&dir)?;
            return Ok(Sender::Files(AsyncFileTransport::new(dir)));
        };
        let builder = match s.smtp_tls {
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)?,
            SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)?,
        };
        let mut builder = builder
            .port(s.smtp_port)
            .timeout(Some(Duration::from_secs(20)));
        if let (Some(user), Some(password)) = (&s.smtp_username, &s.smtp_password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        Ok(Sender::Smtp(builder.build()))
    }

    fn via(&self) -> &'static str {
        match self {
            Sender::Smtp(_) => "smtp",
            Sender::Files(_) => "file",
        }
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Sender::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Sender::Files(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

fn build(state: &AppState, row: &sqlx::any::AnyRow) -> Result<Message, String> {
    let from: Mailbox = state
        .settings
        .mail_from
        .parse()
        .map_err(|e| format!("WEAVE_MAIL_FROM: {e}"))?;
    let address = row
        .get::<String, _>("to_address")
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
    let to = Mailbox::new(row.get::<Option<String>, _>("to_name"), address);
    let domain = from.email.domain().to_owned();
    Message::builder()
        .from(from)
        .to(to)
        .subject(row.get::<String, _>("subject"))
        // The same id on every attempt, so a receiver can drop a duplicate.
        .message_id(Some(format!(
            "<outbox-{}-{}@{domain}>",
            row.get::<i64, _>("id"),
            row.get::<String, _>("created_at").replace([':', '.'], "")
        )))
        .multipart(
            MultiPart::alternative()
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_PLAIN)
                        .body(row.get::<String, _>("body_text")),
                )
                .singlepart(
                    SinglePart::builder()
                        .header(ContentType::TEXT_HTML)
                        .body(row.get::<String, _>("body_html")),
                ),
        )
        .map_err(|e| e.to_string())
}

/// The wait before attempt `attempts + 1`.
pub fn backoff(attempts: i64) -> chrono::Duration {
    let secs = FIRST_RETRY_SECS
        .saturating_mul(1 << attempts.clamp(0, 20))
        .min(3600);
    chrono::Duration::seconds(secs)
}

/// What one pass of the worker did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Pass {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Sends every message due at `now`; returns what happened. Each message is claimed first (a
/// conditional update), so concurrent workers never send one twice.
pub async fn deliver_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<Pass> {
    let sender = Sender::from_settings(state)?;
    let now_text = stamp(now);
    let due: Vec<i64> = sqlx::query(
        "SELECT id FROM outbox WHERE (status = 'pending' AND next_attempt_at <= $1) \
         OR (status = 'sending' AND claimed_until < $1) ORDER BY id LIMIT 200",
    )
    .bind(&now_text)
    .fetch_all(state.db.pool())
    .await?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let mut pass = Pass::default();
    for id in due {
        let claimed = sqlx::query(
            "UPDATE outbox SET status = 'sending', claimed_until = $1 WHERE id = $2 AND \
             ((status = 'pending' AND next_attempt_at <= $3) OR (status = 'sending' AND claimed_until < $3))",
        )
        .bind(stamp(now + chrono::Duration::seconds(CLAIM_SECS)))
        .bind(id)
        .bind(&now_text)
        .execute(state.db.pool())
        .await?;
        if claimed.rows_affected() != 1 {
            continue; // another worker has it
        }
        let row = sqlx::query("SELECT id, to_address, to_name, subject, body_text, body_html, attempts, created_at FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(state.db.pool())
            .await?;
        let attempts = row.get::<i64, _>("attempts") + 1;
        let result = match build(state, &row) {
            Ok(message) => sender.send(message).await,
            Err(e) => Err(e),
        };
        match result {
            Ok(()) => {
                sqlx::query(
                    "UPDATE outbox SET status = 'sent', attempts = $1, sent_at = $2, delivered_via = $3, \
                     claimed_until = NULL, last_error = NULL WHERE id = $4",
                )
                .bind(attempts)
                .bind(stamp(Utc::now()))
                .bind(sender.via())
                .bind(id)
                .execute(state.db.pool())
                .await?;
                pass.sent += 1;
            }
            Err(error) => {
                let give_up = attempts >= MAX_ATTEMPTS;
                tracing::warn!(message = id, attempts, error, "email not sent");
                sqlx::query(
                    "UPDATE outbox SET status = $1, attempts = $2, next_attempt_at = $3, last_error = $4, \
                     claimed_until = NULL WHERE id = $5",
                )
                .bind(if give_up { "failed" } else { "pending" })
                .bind(attempts)
                .bind(stamp(now + backoff(attempts - 1)))
                .bind(error.chars().take(500).collect::<String>())
                .bind(id)
                .execute(state.db.pool())
                .await?;
                if give_up {
                    pass.failed += 1;
                } else {
                    pass.retrying += 1;
                }
            }
        }
    }
    Ok(pass)
}

/// The outbox worker of `weave serve`: a pass every few seconds.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = deliver_due(&state, Utc::now()).await {
                tracing::warn!(error = format!("{error:#}"), "outbox pass failed");
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn retries_back_off_to_an_hour() {
        assert_eq!(super::backoff(0).num_seconds(), 30);
        assert_eq!(super::backoff(1).num_seconds(), 60);
        assert_eq!(super::backoff(3).num_seconds(), 240);
        assert_eq!(super::backoff(10).num_seconds(), 3600);
    }
}
