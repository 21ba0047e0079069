//! Scaling out: two `weave serve` processes on one database share nothing else. A token or a
//! browser session from one works on the other, a write through one is read through the other,
//! and the daily matching run at the cut-off happens once, not once per replica.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{json, Value};

use crate::common::{fresh_database_url, hidden_value};

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn weave(url: &str, data: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weave"));
    command
        .env("WEAVE_DATABASE_URL", url)
        .env("WEAVE_DATA_DIR", data)
        .env("WEAVE_LOG", "error")
        .env(
            "WEAVE_SESSION_SECRET",
            "one-secret-shared-by-every-replica-0123456789",
        )
        // The cut-off has passed whenever the test runs: both replicas find the run due.
        .env("WEAVE_MATCHING_CUTOFF", "00:00")
        .env("WEAVE_TIMEZONE", "UTC")
        .env("WEAVE_DAILY_MATCHING", "true");
    command
}

struct Replica(Child, String);

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start(url: &str, data: &std::path::Path) -> Replica {
    let port = port();
    let mut child = weave(url, data)
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !reqwest::get(format!("{base}/readyz"))
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(Instant::now() < deadline, "replica did not start");
        assert!(child.try_wait().unwrap().is_none(), "replica exited");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Replica(child, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_only_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fresh_database_url(tmp.path()).await;
    let migrate = weave(&url, tmp.path()).arg("migrate").output().unwrap();
    assert!(migrate.status.success());
    let add = weave(&url, tmp.path())
        .args([
            "user",
            "add",
            "--email",
            "hub@replicas.test",
            "--role",
            "hub_coordinator",
            "--password",
            "correct horse battery",
        ])
        .output()
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );
    let (a_dir, b_dir) = (tmp.path().join("a"), tmp.path().join("b"));
    let a = start(&url, &a_dir).await;
    let b = start(&url, &b_dir).await;
    let client = reqwest::Client::new();

    // A token issued by A is good on B.
    let token: Value = client
        .post(format!("{}/api/v1/auth/token", a.1))
        .json(&json!({"email": "hub@replicas.test", "password": "correct horse battery"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let me = client
        .get(format!("{}/api/v1/auth/me", b.1))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    // A write through B is read through A.
    let community: Value = client
        .post(format!("{}/api/v1/organisations", b.1))
        .bearer_auth(&token)
        .json(&crate::common::community_json("多闻社区"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = community["id"].as_i64().unwrap();
    let read = client
        .get(format!("{}/api/v1/organisations/{id}", a.1))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);

    // A browser session signed in on A is signed in on B (the same secret, the sessions in the database).
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let login = browser
        .get(format!("{}/login", a.1))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = hidden_value(&login, "csrf");
    let signed_in = browser
        .post(format!("{}/login", a.1))
        .form(&[
            ("email", "hub@replicas.test"),
            ("password", "correct horse battery"),
            ("csrf", &csrf),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 303);
    // Cookies are per host:port in the client; carry the session cookie over by hand.
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let account = client
        .get(format!("{}/account", b.1))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(account.status(), 200);
    assert!(account.text().await.unwrap().contains("hub@replicas.test"));

    // Both replicas find the daily run due at start; exactly one plan is made.
    let deadline = Instant::now() + Duration::from_secs(30);
    let db = weave::db::Db::connect(&url, 1).await.unwrap();
    loop {
        let runs: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM job_runs WHERE job = 'daily_matching'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        if runs > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no daily run");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let plans: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM plans WHERE origin = 'scheduled'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(plans, 1, "one scheduled plan for two replicas");
}
