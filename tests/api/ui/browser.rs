//! A real headless Chromium for a test, driven over WebDriver by its own chromedriver,
//! against doorman started as every other test starts it. Both stop by themselves when
//! the test ends, pass or fail.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{API_KEY, Backend, TestApp};

const DESKTOP: (u32, u32) = (1280, 900);
const PHONE: (u32, u32) = (390, 844);

fn chromedriver() -> PathBuf {
    std::env::var_os("CHROMEDRIVER").map_or_else(|| "/usr/bin/chromedriver".into(), PathBuf::from)
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| "/usr/bin/chromium".into(), PathBuf::from)
}

/// Whether the browser is here. Missing is a failure in CI (`CI=true`), as a missing
/// PostgreSQL is, and a loud skip on a developer's machine.
fn browser_available() -> bool {
    let missing: Vec<_> = [chromedriver(), chromium()]
        .into_iter()
        .filter(|path| !path.exists())
        .collect();
    if missing.is_empty() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "the browser tests need {missing:?} in CI (apt-get install chromium chromium-driver)"
        );
    }
    eprintln!(
        "SKIPPED: {missing:?} not found; install Debian's chromium and chromium-driver to run the browser tests"
    );
    false
}

/// chromedriver and everything it started, ended together with the test.
struct Driver {
    child: std::process::Child,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The driver leads its own process group, so the browser it started goes too.
        let group = format!("-{}", self.child.id());
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

async fn start_driver() -> (Driver, u16) {
    use std::os::unix::process::CommandExt;
    let port = free_port();
    let child = std::process::Command::new(chromedriver())
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver { child };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("chromedriver did not listen on port {port}");
}

/// doorman and a browser pointed at it.
pub struct Ui {
    pub app: TestApp,
    pub browser: Client,
    /// Names the screenshots; `None` on PostgreSQL, whose pages are the same as SQLite's.
    shots: Option<String>,
    _driver: Driver,
}

impl Ui {
    /// `None` when there is no browser here and this is not CI.
    pub async fn start(backend: Backend, test: &str) -> Option<Self> {
        Self::start_with(backend, test, &[]).await
    }

    pub async fn start_with(backend: Backend, test: &str, vars: &[(&str, &str)]) -> Option<Self> {
        if !browser_available() {
            return None;
        }
        let app = TestApp::spawn_with(backend, vars).await;
        let (driver, port) = start_driver().await;
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-extensions", "--hide-scrollbars",
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ],
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let browser = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a browser session");
        Some(Self {
            app,
            browser,
            shots: (backend == Backend::Sqlite).then(|| test.to_owned()),
            _driver: driver,
        })
    }

    pub async fn goto(&self, path: &str) {
        self.browser
            .goto(&self.app.url(path))
            .await
            .expect("the page loads");
    }

    /// The path (and query) the browser is on.
    pub async fn path(&self) -> String {
        let url = self.browser.current_url().await.expect("a current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn text(&self, css: &str) -> String {
        self.browser
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} on the page: {e}"))
            .text()
            .await
            .expect("its text")
    }

    /// The whole page's visible text.
    pub async fn page_text(&self) -> String {
        self.text("body").await
    }

    /// Types into the field labelled `label` (through its `for`), as a person would.
    pub async fn fill(&self, label: &str, value: &str) {
        let xpath = format!("//label[normalize-space()='{label}']");
        let label_el = self
            .browser
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no field labelled {label}: {e}"));
        let id = label_el
            .attr("for")
            .await
            .unwrap()
            .expect("labels name their field");
        let field = self.browser.find(Locator::Id(&id)).await.unwrap();
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Clicks the button with this text and waits for the page it leads to.
    pub async fn press(&self, button: &str) {
        let xpath = format!("//button[normalize-space()='{button}']");
        let element = self
            .browser
            .find(Locator::XPath(&xpath))
            .await
            .unwrap_or_else(|e| panic!("no button {button}: {e}"));
        // A plain form submit replaces the document; htmx requests do not. Marking the
        // document first tells the two apart, so a test never reads the old page.
        let navigates = self
            .browser
            .execute(
                "const b = arguments[0];\
                 const hx = el => !!el && [...el.attributes].some(a => a.name.startsWith('hx-'));\
                 document.documentElement.dataset.pressed = '1';\
                 return !!b.form && b.type !== 'button' && !hx(b) && !hx(b.form)\
                     && !b.closest('[hx-boost=true]');",
                vec![serde_json::to_value(&element).expect("an element reference")],
            )
            .await
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        element.click().await.expect("the button clicks");
        if navigates {
            self.wait_for_new_page().await;
        }
        self.settle().await;
    }

    /// Waits until the document marked by `press` has been replaced.
    async fn wait_for_new_page(&self) {
        let script = "return document.documentElement.dataset.pressed !== '1'";
        for _ in 0..400 {
            if let Ok(serde_json::Value::Bool(true)) = self.browser.execute(script, vec![]).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the form's answer did not arrive");
    }

    /// Waits until the page has loaded and htmx has nothing in flight.
    pub async fn settle(&self) {
        let script = "return document.readyState === 'complete' && \
                      document.querySelectorAll('.htmx-request').length === 0";
        for _ in 0..200 {
            if let Ok(serde_json::Value::Bool(true)) = self.browser.execute(script, vec![]).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the page did not settle");
    }

    /// Signs in through the form, with the right key.
    pub async fn sign_in(&self) {
        self.goto("/admin/sign-in").await;
        self.fill("API key", API_KEY).await;
        self.press("Sign in").await;
        assert_eq!(self.path().await, "/admin", "signed in");
    }

    /// Saves the page as `target/ui-screenshots/<test>-<page>-<desktop|phone>.png`.
    pub async fn screenshot(&self, page: &str) {
        let Some(test) = &self.shots else { return };
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
        std::fs::create_dir_all(&dir).expect("the screenshot folder");
        for (width, height, name) in [
            (DESKTOP.0, DESKTOP.1, "desktop"),
            (PHONE.0, PHONE.1, "phone"),
        ] {
            self.browser.set_window_size(width, height).await.unwrap();
            self.settle().await;
            let png = self.browser.screenshot().await.expect("a screenshot");
            std::fs::write(dir.join(format!("{test}-{page}-{name}.png")), png).unwrap();
        }
        self.browser
            .set_window_size(DESKTOP.0, DESKTOP.1)
            .await
            .unwrap();
    }

    /// The session cookie's value, as the browser holds it.
    pub async fn session_cookie(&self) -> Option<String> {
        self.browser
            .get_named_cookie("doorman_session")
            .await
            .ok()
            .map(|c| c.value().to_owned())
    }

    pub async fn close(self) {
        let _ = self.browser.close().await;
    }
}
