//! Headless Chromium driven over the W3C WebDriver protocol (`chromedriver` on loopback),
//! with plain HTTP requests: a session, navigation, elements by CSS selector, typing,
//! clicks, script, screenshots.

use serde_json::{Value, json};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The W3C name of an element reference in a WebDriver answer.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A `chromedriver` process and one headless Chromium session, ended when dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

/// An element of the page.
#[derive(Clone)]
pub struct Element(String);

impl Browser {
    /// Starts `chromedriver` and a headless Chromium at 1280×800.
    pub async fn start() -> Browser {
        let port = super::free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect(
                "chromedriver (apt chromium-driver) must be installed: scripts/test.sh installs it",
            );
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{base}/status")).send().await.is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1280,800"]}
        }}});
        let answer: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = answer["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {answer:#}"))
            .to_string();
        Browser {
            driver,
            base,
            session,
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, url);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let answer: Value = req.send().await.unwrap().json().await.unwrap();
        answer["value"].clone()
    }

    /// `POST /element` or `/elements` for a CSS selector.
    async fn locate(&self, endpoint: &str, css: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            endpoint,
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
    }

    /// `POST /element/{id}/{op}` with `body`.
    async fn act(&self, element: &Element, op: &str, body: Value) {
        self.call(
            reqwest::Method::POST,
            &format!("/element/{}/{op}", element.0),
            Some(body),
        )
        .await;
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The element matching `css`, waiting up to 20 s for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.locate("/element", css).await;
            if let Some(id) = v[ELEMENT].as_str() {
                return Element(id.to_string());
            }
            assert!(
                Instant::now() < deadline,
                "no element {css} on the page: {}",
                self.call(reqwest::Method::GET, "/source", None).await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an element matches `css` now.
    pub async fn exists(&self, css: &str) -> bool {
        let v = self.locate("/elements", css).await;
        v.as_array().is_some_and(|a| !a.is_empty())
    }

    /// The visible text of the first element matching `css` ("" when none).
    pub async fn text(&self, css: &str) -> String {
        let v = self.locate("/element", css).await;
        match v[ELEMENT].as_str() {
            Some(id) => self
                .call(reqwest::Method::GET, &format!("/element/{id}/text"), None)
                .await
                .as_str()
                .unwrap_or_default()
                .to_string(),
            None => String::new(),
        }
    }

    /// Waits up to 60 s until the text of `css` contains `wanted`; returns the text.
    pub async fn wait_text(&self, css: &str, wanted: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = self.text(css).await;
            if text.contains(wanted) {
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "{css} never showed {wanted:?}; it shows: {text}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Types `text` into an element.
    pub async fn type_into(&self, element: &Element, text: &str) {
        self.act(element, "value", json!({"text": text})).await;
    }

    /// Clears an input.
    pub async fn clear(&self, element: &Element) {
        self.act(element, "clear", json!({})).await;
    }

    /// Clicks an element.
    pub async fn click(&self, element: &Element) {
        self.act(element, "click", json!({})).await;
    }

    /// Runs `script` (a function body) in the page; returns what it returns.
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Runs asynchronous `script` in the page (its last argument is the callback).
    pub async fn script_async(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/async",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// The accessibility problems of the page as it is (see `a11y.js`): missing landmarks,
    /// labels or names, and text below WCAG AA contrast.
    pub async fn accessibility_problems(&self) -> Vec<String> {
        let found = self.script(include_str!("a11y.js")).await;
        found
            .as_array()
            .unwrap_or_else(|| panic!("the accessibility check failed: {found:#}"))
            .iter()
            .map(|p| p.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Emulates the user's dark (or light) colour scheme preference.
    pub async fn prefer_dark(&self, dark: bool) {
        let scheme = if dark { "dark" } else { "light" };
        self.call(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            Some(json!({"cmd": "Emulation.setEmulatedMedia",
                "params": {"features": [{"name": "prefers-color-scheme", "value": scheme}]}})),
        )
        .await;
    }

    /// Saves a PNG screenshot of the page.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
