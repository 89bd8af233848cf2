//! A real browser for the web interfaces' tests: headless Chromium driven over
//! WebDriver (`chromedriver`, Debian's `chromium` and `chromium-driver` packages,
//! which `.ci/run` installs). Each test runs inside [`Browser::run`], which saves a
//! screenshot under `target/browser-screenshots/` when the test fails.

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long a browser step waits for the page to show what it expects.
pub const BROWSER_PATIENCE: Duration = Duration::from_secs(10);

pub struct Browser {
    pub client: Client,
    driver: Child,
}

/// Window sizes: a laptop, and a narrow phone.
#[derive(Debug, Clone, Copy)]
pub enum Screen {
    Desktop,
    Phone,
}

fn chromedriver() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("SWITCHBOARD_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].into_iter().map(PathBuf::from).find(|p| p.exists())
}

impl Browser {
    /// Starts chromedriver and a headless Chromium. A missing browser fails the test,
    /// unless `SWITCHBOARD_TEST_SKIP_BROWSER` gives the reason to skip it (then `None`,
    /// and the test says so).
    pub async fn start(screen: Screen) -> Option<Self> {
        let Some(driver_path) = chromedriver() else {
            match std::env::var("SWITCHBOARD_TEST_SKIP_BROWSER").ok().filter(|reason| !reason.trim().is_empty()) {
                Some(reason) => {
                    eprintln!("browser test SKIPPED: {reason} (SWITCHBOARD_TEST_SKIP_BROWSER)");
                    return None;
                }
                None => panic!(
                    "chromedriver is missing: install chromium and chromium-driver (.ci/run does), or set SWITCHBOARD_TEST_SKIP_BROWSER to the reason for skipping"
                ),
            }
        };
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("addr").port()
        };
        let driver = Command::new(driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let (width, height) = match screen {
            Screen::Desktop => (1280, 900),
            Screen::Phone => (390, 844),
        };
        let mut capabilities = serde_json::Map::new();
        let mut args = vec!["--headless=new".to_string(), "--no-sandbox".into(), "--disable-gpu".into(), "--disable-dev-shm-usage".into()];
        args.push(format!("--window-size={width},{height}"));
        let mut options = serde_json::json!({"args": args});
        if let Screen::Phone = screen {
            // Headless Chromium keeps windows at least 500 px wide; emulate the phone.
            options["mobileEmulation"] = serde_json::json!({"deviceMetrics": {"width": width, "height": height, "pixelRatio": 2.0}});
        }
        if let Ok(binary) = std::env::var("SWITCHBOARD_CHROMIUM") {
            options["binary"] = binary.into();
        } else if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = "/usr/bin/chromium".into();
        }
        capabilities.insert("goog:chromeOptions".into(), options);
        // Two TLS backends are compiled in; the WebDriver client needs one chosen.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            match ClientBuilder::rustls().expect("TLS roots").capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => return Some(Self { client, driver }),
                Err(error) => last_error = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot start Chromium through chromedriver: {last_error:?}");
    }

    /// Runs a test with the browser; on failure saves `target/browser-screenshots/{name}.png`.
    pub async fn run<F, Fut>(self, name: &str, test: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = ()>,
    {
        let outcome = AssertUnwindSafe(test(self.client.clone())).catch_unwind().await;
        if outcome.is_err() {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/browser-screenshots");
            let _ = std::fs::create_dir_all(&dir);
            if let Ok(png) = self.client.screenshot().await {
                let path = dir.join(format!("{name}.png"));
                let _ = std::fs::write(&path, png);
                eprintln!("screenshot of the failure: {}", path.display());
            }
        }
        let _ = self.client.clone().close().await;
        drop(self.driver);
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }
}

/// Waits for an element matching the CSS selector (visible or not). Any error is
/// tried again until the patience runs out: a page that navigates (signing out
/// reloads it) aborts a search with an error that is not "no such element".
pub async fn find(client: &Client, css: &str) -> Element {
    let deadline = tokio::time::Instant::now() + BROWSER_PATIENCE;
    loop {
        match client.find(Locator::Css(css)).await {
            Ok(element) => return element,
            Err(error) if tokio::time::Instant::now() >= deadline => panic!("no element {css}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

/// Waits until the element matching `css` contains `text`; answers it.
pub async fn find_text(client: &Client, css: &str, text: &str) -> Element {
    let deadline = tokio::time::Instant::now() + BROWSER_PATIENCE;
    loop {
        if let Ok(elements) = client.find_all(Locator::Css(css)).await {
            for element in elements {
                if element.text().await.is_ok_and(|t| t.contains(text)) {
                    return element;
                }
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no {css} containing {text:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// Steps that act on an element find it again for each try: a list that refreshes
// itself replaces its elements, and an element found before the refresh is stale.

/// Clicks the element matching `css`, finding it again if it was re-rendered between
/// finding and clicking.
pub async fn click(client: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + BROWSER_PATIENCE;
    loop {
        let error = match find(client, css).await.click().await {
            Ok(()) => return,
            Err(error) => error,
        };
        assert!(tokio::time::Instant::now() < deadline, "cannot click {css}: {error}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Clicks the element matching `css` that shows `text`, again if it was re-rendered
/// between finding and clicking.
pub async fn click_text(client: &Client, css: &str, text: &str) {
    let deadline = tokio::time::Instant::now() + BROWSER_PATIENCE;
    loop {
        let error = match find_text(client, css, text).await.click().await {
            Ok(()) => return,
            Err(error) => error,
        };
        assert!(tokio::time::Instant::now() < deadline, "cannot click {css} {text:?}: {error}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the element matching `css` is shown (or, with `shown` false, hidden or gone).
pub async fn wait_displayed(client: &Client, css: &str, shown: bool) {
    let deadline = tokio::time::Instant::now() + BROWSER_PATIENCE;
    loop {
        let displayed = match client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        };
        if displayed == shown {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{css} should be {}", if shown { "shown" } else { "hidden" });
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The attribute `name` of the element matching `css`, read again if the element was
/// re-rendered in between.
pub async fn attribute(client: &Client, css: &str, name: &str) -> Option<String> {
    let deadline = tokio::time::Instant::now() + BROWSER_PATIENCE;
    loop {
        match find(client, css).await.attr(name).await {
            Ok(value) => return value,
            Err(error) => assert!(tokio::time::Instant::now() < deadline, "cannot read {name} of {css}: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The text of every element matching `css`, read in one step in the page (so that
/// a refresh cannot come between them).
pub async fn texts(client: &Client, css: &str) -> Vec<String> {
    let script = "return Array.from(document.querySelectorAll(arguments[0]), e => e.textContent.trim());";
    let value = client.execute(script, vec![serde_json::json!(css)]).await.unwrap_or_else(|e| panic!("cannot read {css}: {e}"));
    serde_json::from_value(value).unwrap_or_else(|e| panic!("texts of {css}: {e}"))
}

/// Saves a screenshot of the current page (for README pictures).
pub async fn screenshot(client: &Client, path: &std::path::Path) {
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(path, png).expect("the screenshot is written");
}

/// Clears an input and types `text` into it.
pub async fn fill(client: &Client, css: &str, text: &str) {
    let input = find(client, css).await;
    input.clear().await.expect("the input clears");
    input.send_keys(text).await.expect("typing");
}

/// Clicks `refresh` until an element matches `css`: lists that are not refreshed on
/// their own are asked again, up to the browser's patience.
pub async fn refresh_until(client: &Client, refresh: &str, css: &str) {
    let deadline = tokio::time::Instant::now() + BROWSER_PATIENCE;
    loop {
        if client.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {css} after refreshing");
        if let Ok(button) = client.find(Locator::Css(refresh)).await {
            let _ = button.click().await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Signs the person in to the web console.
pub async fn console_sign_in(client: &Client, server: &crate::TestServer, person: &crate::TestPerson) {
    client.goto(&format!("{}/console", server.url)).await.expect("the console opens");
    fill(client, "#login", &person.login).await;
    fill(client, "#password", &person.password).await;
    click(client, "#sign-in").await;
    find_text(client, "#who", &format!("({})", person.login)).await;
}

/// Opens the web messenger at `path`, signs in on its form, and waits until the
/// live stream is connected.
pub async fn messenger_sign_in(client: &Client, server: &crate::TestServer, path: &str, person: &crate::TestPerson) {
    client.goto(&format!("{}{path}", server.url)).await.expect("the page opens");
    find(client, "#login-view:not([hidden])").await;
    find(client, "#login").await.send_keys(&person.login).await.expect("typing the login");
    find(client, "#password").await.send_keys(&person.password).await.expect("typing the password");
    find(client, "#sign-in").await.click().await.expect("signing in");
    find(client, "body[data-live='on']").await;
}

/// Types into the web messenger's composer and presses Enter.
pub async fn write_message(client: &Client, text: &str) {
    let input = find(client, "#text").await;
    input.send_keys(text).await.expect("typing");
    input.send_keys(&fantoccini::key::Key::Enter).await.expect("pressing Enter");
}

/// Opens the web console with the operator credential.
pub async fn console_sign_in_as_operator(client: &Client, server: &crate::TestServer) {
    client.goto(&format!("{}/console", server.url)).await.expect("the console opens");
    fill(client, "#operator-token", &server.operator).await;
    click(client, "#use-token").await;
    find_text(client, "#who", "operator").await;
}

/// Opens a view of the web console by its `#hash`.
pub async fn console_go(client: &Client, server: &crate::TestServer, hash: &str) {
    client.goto(&format!("{}/console#{hash}", server.url)).await.expect("navigation");
}
