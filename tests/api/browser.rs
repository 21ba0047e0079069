//! A real browser (headless Chromium driven through chromedriver) signs in and registers a
//! community through the pages. Skipped with a notice when chromedriver is not installed,
//! unless `WEAVE_REQUIRE_BROWSER=1` (as in CI), where its absence is a failure.

use std::{
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{ClientBuilder, Locator};
use weave::auth::Role;

use crate::common::TestApp;

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chromedriver_path() -> Option<String> {
    let path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
    std::path::Path::new(&path).exists().then_some(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_coordinator_signs_in_and_registers_a_community_in_chromium() {
    let Some(chromedriver) = chromedriver_path() else {
        assert!(
            std::env::var("WEAVE_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "WEAVE_REQUIRE_BROWSER=1 but chromedriver is not installed"
        );
        eprintln!("NOTICE: chromedriver not found; the browser test is skipped (apt-get install chromium chromium-driver)");
        return;
    };
    let app = TestApp::new().await;
    let hub = app.user(Role::HubCoordinator).await;

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _driver = Driver(
        Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver"),
    );
    let mut capabilities = serde_json::Map::new();
    let profile = tempfile::tempdir().unwrap();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=412,915", format!("--user-data-dir={}", profile.path().display())]
        }),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let browser = loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(client) => break client,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start a Chromium session: {e}"),
        }
    };

    let result = async {
        browser.goto(&app.url("/organisations")).await?;
        // Not signed in: the page sends us to the login form.
        assert!(browser.current_url().await?.path().starts_with("/login"));
        browser
            .find(Locator::Css("input[name=email]"))
            .await?
            .send_keys(&hub.email)
            .await?;
        browser
            .find(Locator::Css("input[name=password]"))
            .await?
            .send_keys(&hub.password)
            .await?;
        browser
            .find(Locator::Css("form[action='/login'] button[type=submit]"))
            .await?
            .click()
            .await?;
        // Signed in, the browser lands where it was going: the list, with the button to register.
        browser
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css("a[href='/organisations/new']"))
            .await?;
        assert_eq!(browser.current_url().await?.path(), "/organisations");

        browser.goto(&app.url("/organisations/new")).await?;
        browser
            .find(Locator::Css("input[name=name_zh]"))
            .await?
            .send_keys("多闻社区")
            .await?;
        browser
            .find(Locator::Css("input[name=district]"))
            .await?
            .send_keys("江汉区")
            .await?;
        browser
            .find(Locator::Css("input[name=households]"))
            .await?
            .send_keys("1900")
            .await?;
        browser
            .find(Locator::Css("input[name=elders_living_alone]"))
            .await?
            .send_keys("220")
            .await?;
        browser
            .find(Locator::Css(
                "form[action='/organisations'] button[type=submit]",
            ))
            .await?
            .click()
            .await?;

        browser
            .wait()
            .at_most(Duration::from_secs(15))
            .for_element(Locator::Css("dl.facts"))
            .await?;
        let heading = browser.find(Locator::Css("h1")).await?.text().await?;
        assert!(heading.contains("多闻社区"), "{heading}");
        assert!(browser
            .current_url()
            .await?
            .path()
            .starts_with("/organisations/"));
        let facts = browser.find(Locator::Css("dl.facts")).await?.text().await?;
        assert!(facts.contains("1900") && facts.contains("220"), "{facts}");
        Ok::<_, fantoccini::error::CmdError>(())
    }
    .await;
    let _ = browser.close().await;
    result.expect("browser flow");

    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM organisations WHERE name_zh = '多闻社区'")
            .fetch_one(app.db.pool())
            .await
            .unwrap();
    assert_eq!(count, 1);
}
