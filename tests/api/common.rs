//! `TestApp`: the real router on a real database (a fresh SQLite file, or a fresh PostgreSQL
//! database when `WEAVE_TEST_DATABASE_URL` says `postgres://`), served on a free port.

use reqwest::{header, Client, Response, StatusCode};
use serde_json::{json, Value};
use weave::{
    app::AppState,
    auth::Role,
    config::Settings,
    db::{Backend, Db},
};

pub struct TestApp {
    pub addr: String,
    pub db: Db,
    pub database_url: String,
    pub client: Client,
    _tmp: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

type SettingsFn = Box<dyn FnOnce(&mut Settings)>;

pub struct Builder {
    settings_fn: Option<SettingsFn>,
}

/// The backend the suite runs against, named in failure messages.
pub fn test_database_url() -> Option<String> {
    std::env::var("WEAVE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

pub async fn fresh_database_url(tmp: &std::path::Path) -> String {
    match test_database_url() {
        Some(url) if Backend::from_url(&url).ok() == Some(Backend::Postgres) => {
            let name = format!("weave_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Db::connect(&url, 1)
                .await
                .expect("connect to the PostgreSQL test server");
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(admin.pool())
                .await
                .expect("create test database");
            admin.pool().close().await;
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}", tmp.join("weave.db").display()),
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        TestApp::builder().build().await
    }

    pub fn builder() -> Builder {
        Builder { settings_fn: None }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// An account of the given role (bound to a fresh organisation of the right kind where the
    /// role needs one) and an API token for it.
    pub async fn user(&self, role: Role) -> TestUser {
        let orgs = match role.bound_kind() {
            Some(kind) => vec![
                self.seed_org(kind, &format!("{kind} of {}", role.as_str()))
                    .await,
            ],
            None => Vec::new(),
        };
        self.user_with_orgs(role, &orgs).await
    }

    pub async fn user_with_orgs(&self, role: Role, orgs: &[i64]) -> TestUser {
        let email = format!(
            "{}-{}@test.weave",
            role.as_str(),
            uuid::Uuid::new_v4().simple()
        );
        let password = "correct horse battery".to_owned();
        weave::cli::add_user(&self.db, &email, None, role, &password, orgs)
            .await
            .expect("create test user");
        let token = self.token(&email, &password).await;
        TestUser {
            email,
            password,
            token,
            orgs: orgs.to_vec(),
        }
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let response = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&json!({ "email": email, "password": password }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        body(response).await["token"].as_str().unwrap().to_owned()
    }

    /// Inserts an organisation directly (as the CLI or the demo would).
    pub async fn seed_org(&self, kind: &str, name: &str) -> i64 {
        let mut input = json!({ "kind": kind, "name_zh": name, "district": "江汉区" });
        if kind == "donor" {
            input["donor_type"] = json!("institution");
        }
        let input = serde_json::from_value(input).unwrap();
        let org = weave::registry::model::ValidOrganisation::parse(input).unwrap();
        let mut tx = self.db.begin().await.unwrap();
        let created = weave::registry::store::insert(tx.conn(), &org)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        created.id
    }

    /// Another service process on the same database: its own pool and settings.
    pub async fn replica(&self, f: impl FnOnce(&mut Settings)) -> AppState {
        let mut settings =
            Settings::for_database(&self.database_url, self._tmp.path().to_path_buf());
        f(&mut settings);
        let db = Db::connect(&self.database_url, 4).await.expect("connect");
        let secret = settings.session_secret.clone().unwrap();
        AppState::new(db, settings, &secret).unwrap()
    }

    pub async fn count(&self, table: &str) -> i64 {
        sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(self.db.pool())
            .await
            .unwrap()
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        with_token(self.client.get(self.url(path)), token)
    }

    pub fn post(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        with_token(self.client.post(self.url(path)), token)
    }

    pub fn put(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        with_token(self.client.put(self.url(path)), token)
    }

    pub fn delete(&self, path: &str, token: Option<&str>) -> reqwest::RequestBuilder {
        with_token(self.client.delete(self.url(path)), token)
    }

    /// A browser-like client: keeps cookies, does not follow redirects.
    pub fn browser(&self) -> Client {
        Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Signs a browser-like client in through the login form; returns the CSRF token of the session.
    pub async fn sign_in(&self, browser: &Client, email: &str, password: &str) -> String {
        let login_page = browser
            .get(self.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hidden_value(&login_page, "csrf");
        let response = browser
            .post(self.url("/login"))
            .form(&[
                ("email", email),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::SEE_OTHER,
            "login should redirect"
        );
        let home = browser
            .get(self.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        hidden_value(&home, "csrf")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl Builder {
    pub fn settings(mut self, f: impl FnOnce(&mut Settings) + 'static) -> Self {
        self.settings_fn = Some(Box::new(f));
        self
    }

    pub async fn build(self) -> TestApp {
        let tmp = tempfile::tempdir().unwrap();
        let url = fresh_database_url(tmp.path()).await;
        let mut settings = Settings::for_database(&url, tmp.path().to_path_buf());
        if let Some(f) = self.settings_fn {
            f(&mut settings);
        }
        weave::telemetry::init(&settings);
        let db = Db::connect(&url, settings.db_max_connections)
            .await
            .expect("connect");
        db.migrate().await.expect("migrate");
        let secret = settings.session_secret.clone().unwrap();
        let state = AppState::new(db.clone(), settings, &secret).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(weave::app::serve(listener, state, async move {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            db,
            database_url: url,
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            _tmp: tmp,
            shutdown: Some(tx),
        }
    }
}

pub struct TestUser {
    pub email: String,
    pub password: String,
    pub token: String,
    pub orgs: Vec<i64>,
}

fn with_token(builder: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => builder.header(header::AUTHORIZATION, format!("Bearer {t}")),
        None => builder,
    }
}

pub async fn body(response: Response) -> Value {
    let text = response.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts a problem+json response with the given status and `type` code; returns the body.
pub async fn expect_problem(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(
        response.status().as_u16(),
        status,
        "status of {}",
        response.url()
    );
    let content_type = response.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let problem = body(response).await;
    assert_eq!(
        problem["type"],
        format!("urn:weave:problem:{code}"),
        "{problem}"
    );
    assert_eq!(problem["status"], status);
    assert!(problem["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(problem["request_id"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    problem
}

/// The value of `<input type="hidden" name=NAME value=...>` in a page.
pub fn hidden_value(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in page:\n{html}"))
        + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

pub fn community_json(name: &str) -> Value {
    json!({
        "kind": "community",
        "name_zh": name,
        "name_en": "Duowen Community",
        "district": "江汉区",
        "address": "民意街",
        "location": { "lat": 30.5868, "lon": 114.2736 },
        "contact": { "name": "刘芳", "phone": "027-8555 0101", "email": "duowen@example.org" },
        "headcounts": { "households": 1900, "residents": 4700, "residents_over_60": 1200, "elders_living_alone": 220 }
    })
}

/// Sends the same write `times` times at once, each with its own Idempotency-Key, and counts
/// the answers: (201 created, 409 refused); any other status fails the test.
pub async fn race(
    app: &TestApp,
    path: &str,
    token: &str,
    input: &Value,
    times: usize,
) -> (usize, usize) {
    let mut tasks = Vec::new();
    for _ in 0..times {
        let request = app
            .client
            .post(app.url(path))
            .bearer_auth(token)
            .header("Idempotency-Key", uuid::Uuid::new_v4().to_string())
            .json(input);
        tasks.push(tokio::spawn(async move {
            request.send().await.unwrap().status().as_u16()
        }));
    }
    let (mut created, mut refused) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            201 => created += 1,
            409 => refused += 1,
            other => panic!("unexpected status {other} from {path}"),
        }
    }
    (created, refused)
}

/// A page read by a signed-in browser: its status and text.
pub async fn page(browser: &Client, app: &TestApp, path: &str) -> (u16, String) {
    let response = browser.get(app.url(path)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A form posted by a browser.
pub async fn submit(
    browser: &Client,
    app: &TestApp,
    path: &str,
    fields: &[(&str, &str)],
) -> Response {
    browser
        .post(app.url(path))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(serde_urlencoded::to_string(fields).unwrap())
        .send()
        .await
        .unwrap()
}
