//! The `weave` binary itself: help, migrate, user add, demo, and serve with a clean SIGTERM.

use std::{
    io::{Read, Write},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use crate::common::fresh_database_url;

fn weave(database_url: &str, data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weave"));
    command
        .env("WEAVE_DATABASE_URL", database_url)
        .env("WEAVE_DATA_DIR", data_dir)
        .env("WEAVE_LOG", "warn")
        .env_remove("WEAVE_BIND")
        .env_remove("WEAVE_SESSION_SECRET");
    command
}

fn run(command: &mut Command) -> (bool, String) {
    let output = command.output().expect("run weave");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn help_explains_every_command_and_setting() {
    let (ok, text) = run(Command::new(env!("CARGO_BIN_EXE_weave")).arg("--help"));
    assert!(ok, "{text}");
    for word in [
        "serve",
        "migrate",
        "demo",
        "user",
        "WEAVE_DATABASE_URL",
        "WEAVE_BIND",
        "WEAVE_DATA_DIR",
        "WEAVE_SESSION_SECRET",
        "WEAVE_LOG_FORMAT",
        "WEAVE_SESSION_TTL_HOURS",
        "WEAVE_MAX_BODY_BYTES",
        "search",
        "WEAVE_DELIVERY_WINDOW",
        "WEAVE_SMTP_HOST",
        "WEAVE_MEILI_URL",
        "WEAVE_PUBLIC_URL",
    ] {
        assert!(
            text.contains(word),
            "--help does not mention {word}:\n{text}"
        );
    }
    let (ok, text) = run(Command::new(env!("CARGO_BIN_EXE_weave")).args(["user", "add", "--help"]));
    assert!(
        ok && text.contains("--email") && text.contains("--org"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_user_add_and_demo_work_on_the_configured_database() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fresh_database_url(tmp.path()).await;
    let (ok, text) = run(weave(&url, tmp.path()).arg("migrate"));
    assert!(ok, "{text}");
    assert!(
        !text.contains(":weave@") || text.contains("<redacted>"),
        "no password printed: {text}"
    );

    let (ok, text) = run(weave(&url, tmp.path()).args([
        "user",
        "add",
        "--email",
        "ops@hub.org",
        "--role",
        "admin",
        "--password",
        "long enough pw",
    ]));
    assert!(ok, "{text}");
    let (ok, text) = run(weave(&url, tmp.path()).args([
        "user",
        "add",
        "--email",
        "OPS@hub.org",
        "--role",
        "admin",
        "--password",
        "long enough pw",
    ]));
    assert!(
        !ok && text.contains("already exists"),
        "emails are unique regardless of case: {text}"
    );
    let (ok, text) = run(weave(&url, tmp.path()).args([
        "user",
        "add",
        "--email",
        "x@hub.org",
        "--role",
        "root",
        "--password",
        "long enough pw",
    ]));
    assert!(!ok && text.contains("unknown role"), "{text}");
    let (ok, text) = run(weave(&url, tmp.path()).args([
        "user",
        "add",
        "--email",
        "s@hub.org",
        "--role",
        "community_secretary",
        "--password",
        "long enough pw",
    ]));
    assert!(!ok && text.contains("must be bound"), "{text}");

    let (ok, text) = run(weave(&url, tmp.path()).arg("demo"));
    assert!(ok, "{text}");
    assert!(
        text.contains("admin@weave.demo") && text.contains("secretary@weave.demo"),
        "{text}"
    );
    let (ok, text) = run(weave(&url, tmp.path()).arg("demo"));
    assert!(!ok && text.contains("already loaded"), "{text}");

    let (ok, text) = run(weave(&url, tmp.path()).args([
        "user",
        "add",
        "--email",
        "sec@hub.org",
        "--role",
        "community_secretary",
        "--password",
        "long enough pw",
        "--org",
        "1",
        "--org",
        "2",
    ]));
    assert!(ok, "a secretary of two demo communities: {text}");
    let db = weave::db::Db::connect(&url, 1).await.unwrap();
    let communities: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE kind = 'community'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(communities, 12);
    let items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM items")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(
        items >= 15,
        "the demo seeds a catalogue from the field notes"
    );
    let pack: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM kit_items k JOIN kits ON kits.id = k.kit_id WHERE kits.code = 'epidemic_pack'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(pack, 4, "masks, alcohol, 84 disinfectant and wipes");
    let open_needs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM needs WHERE status = 'open'")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert!(
        open_needs >= 40,
        "every community has posted the day's needs: {open_needs}"
    );
    let dormant: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM agreements WHERE status = 'dormant'")
            .fetch_one(db.pool())
            .await
            .unwrap();
    assert_eq!(dormant, 1);
    let bound: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM user_organisations uo JOIN users u ON u.id = uo.user_id WHERE u.email = 'sec@hub.org'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(bound, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_demo_data_answers_and_stops_cleanly_on_sigterm() {
    let tmp = tempfile::tempdir().unwrap();
    let url = fresh_database_url(tmp.path()).await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let mut child = weave(&url, tmp.path())
        .args(["serve", "--demo", "--bind", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ready = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "weave serve did not become ready"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "weave serve exited early"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let token = client
        .post(format!("http://127.0.0.1:{port}/api/v1/auth/token"))
        .json(&serde_json::json!({"email": "hub@weave.demo", "password": "weave-hub-2020"}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 201, "the printed demo credentials work");
    let token = token.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let board: serde_json::Value = client
        .get(format!("http://127.0.0.1:{port}/api/v1/board"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let masks = board["by_item"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["item"] == "一次性医用口罩")
        .unwrap();
    assert_eq!(
        masks["in_stock"], 3000,
        "the demo board shows received masks"
    );
    assert!(masks["asked"].as_i64().unwrap() > 3000);
    assert!(
        tmp.path().join("session.key").exists(),
        "a session key is generated and kept"
    );

    // A request in flight when SIGTERM arrives: headers and half of the body are sent, the
    // signal is delivered, then the rest of the body follows. The server must still answer it.
    let body = r#"{"email": "hub@weave.demo", "password": "not the password"}"#;
    let (first, rest) = body.split_at(20);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST /api/v1/auth/token HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
        body.len()
    )
    .unwrap();
    stream.flush().unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "the server waits for the request in flight"
    );
    // New connections are no longer accepted once shutdown has begun.
    let new_request = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send();
    let refused = tokio::time::timeout(Duration::from_secs(2), new_request).await;
    assert!(
        refused.map(|r| r.is_err()).unwrap_or(true),
        "no new requests are served after SIGTERM"
    );
    stream.write_all(rest.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 401"),
        "the in-flight request got its answer: {answer}"
    );
    assert!(answer.contains("bad_credentials"), "{answer}");

    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            Instant::now() < deadline,
            "weave serve did not stop on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
}
