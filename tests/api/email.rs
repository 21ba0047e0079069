//! Email through the outbox against a real SMTP server process (aiosmtpd, from Debian's
//! `python3-aiosmtpd` or PyPI), started by each test: a feedback batch reaches every donor who
//! has an address, once; with the server down the message is kept and retried, then delivered
//! when the server returns; with no server configured it is written as an .eml file. Skipped
//! with a notice when aiosmtpd is missing, unless `WEAVE_REQUIRE_SMTP=1` (as in CI).

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use chrono::Utc;
use serde_json::{json, Value};
use weave::{auth::Role, config::SmtpTls, notify};

use crate::{
    common::{body, TestApp, TestUser},
    stock::keyed,
};

/// A Python that has aiosmtpd.
fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

fn smtp_available() -> Option<&'static str> {
    let found = python();
    if found.is_none() {
        assert!(
            std::env::var("WEAVE_REQUIRE_SMTP").as_deref() != Ok("1"),
            "WEAVE_REQUIRE_SMTP=1 but aiosmtpd is not installed"
        );
        eprintln!("NOTICE: aiosmtpd not found; the SMTP tests are skipped (apt-get install python3-aiosmtpd)");
    }
    found
}

/// A real SMTP server on `port` that keeps every message in a Maildir.
struct SmtpServer {
    child: Child,
    maildir: PathBuf,
}

impl SmtpServer {
    fn start(python: &str, port: u16, maildir: &Path) -> SmtpServer {
        let child = Command::new(python)
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start aiosmtpd");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        SmtpServer {
            child,
            maildir: maildir.to_owned(),
        }
    }

    fn messages(&self) -> Vec<PathBuf> {
        std::fs::read_dir(self.maildir.join("new"))
            .map(|d| d.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Subject, recipient, and the decoded plain-text and HTML parts of a stored message.
fn read_message(python: &str, path: &Path) -> Value {
    let script = r#"
import email, json, sys
from email import policy
m = email.message_from_binary_file(open(sys.argv[1], 'rb'), policy=policy.default)
parts = {p.get_content_type(): p.get_content() for p in m.walk() if not p.is_multipart()}
print(json.dumps({"subject": str(m["subject"]), "to": str(m["to"]), "message_id": str(m["message-id"]),
                  "text": parts.get("text/plain", ""), "html": parts.get("text/html", "")}))
"#;
    let out = Command::new(python)
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A project with two donors' money received: one donor has an email address, one has none.
async fn project_with_donors(app: &TestApp) -> (TestUser, i64, i64) {
    let staff = app.user(Role::FoundationStaff).await;
    let with_email = app.user(Role::Donor).await;
    let without = app.user(Role::Donor).await;
    sqlx::query("UPDATE organisations SET contact_email = 'donor@example.org', name_zh = '汉口商会' WHERE id = $1")
        .bind(with_email.orgs[0])
        .execute(app.db.pool())
        .await
        .unwrap();
    let project = body(
        app.post("/api/v1/projects", Some(&staff.token))
            .json(
                &json!({"name_zh": "社区防疫", "starts_on": "2026-11-01", "ends_on": "2027-01-31",
                          "budget_lines": [{"category": "交通费", "amount": "1000"}]}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    let id = project["id"].as_i64().unwrap();
    for donor in [&with_email, &without] {
        let pledge = body(
            keyed(
                app,
                "/api/v1/pledges",
                &staff.token,
                &json!({"donor_id": donor.orgs[0], "kind": "money", "amount": "800"}),
            )
            .await,
        )
        .await["id"]
            .as_i64()
            .unwrap();
        let receipt = keyed(
            app,
            "/api/v1/receipts",
            &staff.token,
            &json!({"project_id": id, "pledge_id": pledge, "amount": "800"}),
        )
        .await;
        assert_eq!(receipt.status(), 201);
    }
    let paid = keyed(app, "/api/v1/disbursements", &staff.token,
        &json!({"project_id": id, "budget_line_id": project["budget_lines"][0]["id"], "kind": "transport",
                "fund": "general", "amount": "400", "payee": "车队"})).await;
    assert_eq!(paid.status(), 201);
    (staff, id, with_email.orgs[0])
}

async fn send_batch(app: &TestApp, staff: &TestUser, project: i64, key: &str, lang: &str) -> Value {
    let response = app
        .post(
            &format!("/api/v1/projects/{project}/feedback-batch"),
            Some(&staff.token),
        )
        .header("Idempotency-Key", key)
        .json(&json!({"lang": lang}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    body(response).await
}

async fn outbox(app: &TestApp, staff: &TestUser) -> Value {
    body(
        app.get("/api/v1/outbox", Some(&staff.token))
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feedback_batch_reaches_every_donor_with_an_address_once() {
    let Some(python) = smtp_available() else {
        return;
    };
    let app = TestApp::new().await;
    let (staff, project, donor) = project_with_donors(&app).await;
    let batch = send_batch(&app, &staff, project, "batch-1", "zh-CN").await;
    assert_eq!(batch["messages"], 1);
    assert_eq!(batch["skipped"].as_array().unwrap().len(), 1);
    assert_eq!(
        batch["skipped"][0]["reason"],
        "no email address on the donor's record"
    );
    // The same request again is the same batch: nothing more queued.
    let again = send_batch(&app, &staff, project, "batch-1", "zh-CN").await;
    assert_eq!(again["batch_id"], batch["batch_id"]);
    let queued = outbox(&app, &staff).await;
    assert_eq!(queued.as_array().unwrap().len(), 1);
    assert_eq!(queued[0]["status"], "pending");
    assert_eq!(queued[0]["related_id"], donor);

    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = SmtpServer::start(python, port, &tmp.path().join("maildir"));
    let state = app
        .replica(|s| {
            s.smtp_host = Some("127.0.0.1".into());
            s.smtp_port = port;
            s.smtp_tls = SmtpTls::None;
            s.mail_from = "江城社区公益基金会 <feedback@jiangcheng.example>".into();
        })
        .await;
    let pass = notify::deliver_due(&state, Utc::now()).await.unwrap();
    assert_eq!(
        pass,
        notify::Pass {
            sent: 1,
            retrying: 0,
            failed: 0
        }
    );
    assert_eq!(
        notify::deliver_due(&state, Utc::now()).await.unwrap(),
        notify::Pass::default()
    );
    let stored = server.messages();
    assert_eq!(stored.len(), 1, "one message, once");
    let message = read_message(python, &stored[0]);
    assert_eq!(message["subject"], "感谢您的捐赠：社区防疫 捐赠反馈");
    assert!(message["to"]
        .as_str()
        .unwrap()
        .contains("donor@example.org"));
    let text = message["text"].as_str().unwrap();
    assert!(text.contains("汉口商会，您好"), "{text}");
    assert!(text.contains("¥800.00"), "{text}");
    assert!(
        text.contains("交通费: ¥200.00 (50.0%)"),
        "half of the pooled spending: {text}"
    );
    let html = message["html"].as_str().unwrap();
    assert!(
        html.contains("<table>") && html.contains("¥600.00"),
        "{html}"
    );
    let sent = outbox(&app, &staff).await;
    assert_eq!(sent[0]["status"], "sent");
    assert_eq!(sent[0]["delivered_via"], "smtp");
    assert_eq!(sent[0]["attempts"], 1);

    // In English on request.
    send_batch(&app, &staff, project, "batch-2", "en").await;
    notify::deliver_due(&state, Utc::now()).await.unwrap();
    let english = server
        .messages()
        .into_iter()
        .map(|p| read_message(python, &p))
        .find(|m| m["subject"].as_str().unwrap().starts_with("Thank you"))
        .expect("the English message");
    assert!(english["text"].as_str().unwrap().contains("Dear 汉口商会"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mail_waits_while_the_server_is_down_and_goes_when_it_returns() {
    let Some(python) = smtp_available() else {
        return;
    };
    let app = TestApp::new().await;
    let (staff, project, _) = project_with_donors(&app).await;
    send_batch(&app, &staff, project, "batch", "zh-CN").await;
    let port = free_port();
    let state = app
        .replica(|s| {
            s.smtp_host = Some("127.0.0.1".into());
            s.smtp_port = port;
            s.smtp_tls = SmtpTls::None;
        })
        .await;
    let now = Utc::now();
    let pass = notify::deliver_due(&state, now).await.unwrap();
    assert_eq!(
        pass,
        notify::Pass {
            sent: 0,
            retrying: 1,
            failed: 0
        }
    );
    let kept = outbox(&app, &staff).await;
    assert_eq!(kept[0]["status"], "pending");
    assert_eq!(kept[0]["attempts"], 1);
    assert!(kept[0]["last_error"]
        .as_str()
        .is_some_and(|e| !e.is_empty()));
    // Not due again before its backoff.
    assert_eq!(
        notify::deliver_due(&state, now).await.unwrap(),
        notify::Pass::default()
    );

    let tmp = tempfile::tempdir().unwrap();
    let server = SmtpServer::start(python, port, &tmp.path().join("maildir"));
    let later = now + chrono::Duration::minutes(2);
    let pass = notify::deliver_due(&state, later).await.unwrap();
    assert_eq!(pass.sent, 1);
    assert_eq!(server.messages().len(), 1);
    let sent = outbox(&app, &staff).await;
    assert_eq!(sent[0]["status"], "sent");
    assert_eq!(sent[0]["attempts"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_server_mail_is_written_as_eml_files() {
    let app = TestApp::new().await;
    let (staff, project, _) = project_with_donors(&app).await;
    send_batch(&app, &staff, project, "batch", "zh-CN").await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().to_owned();
    let state = app
        .replica(move |s| {
            s.smtp_host = None;
            s.data_dir = dir;
        })
        .await;
    let pass = notify::deliver_due(&state, Utc::now()).await.unwrap();
    assert_eq!(pass.sent, 1);
    let files: Vec<_> = std::fs::read_dir(data.path().join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].extension().unwrap(), "eml");
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("multipart/alternative"));
    let sent = outbox(&app, &staff).await;
    assert_eq!(sent[0]["delivered_via"], "file");
}
