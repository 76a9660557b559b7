//! A small WebDriver client for headless Chromium through chromedriver: just the
//! commands the browser tests use, so no heavy client crate is needed.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine;
use serde_json::{Value, json};

const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Driver {
    child: Child,
    base: String,
    session: String,
    client: awc::Client,
    profile: PathBuf,
}

#[derive(Clone)]
pub struct Element(String);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

impl Driver {
    /// Starts chromedriver and a headless Chromium with a fresh profile, with the
    /// flags that keep it off the network.
    pub async fn start() -> Driver {
        let chromedriver =
            std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into());
        let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        let port = free_port();
        let child = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {chromedriver} (apt-get install chromium chromium-driver): {e}"
                )
            });
        let base = format!("http://127.0.0.1:{port}");
        let client = awc::Client::builder()
            .timeout(Duration::from_secs(60))
            .finish();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut res) = client.get(format!("{base}/status")).send().await
                && res
                    .json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true)
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not start");
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = super::target_dir()
            .join("chromium-profiles")
            .join(format!("p{}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).expect("profile dir");
        let caps = json!({
            "capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": [
                        "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--no-first-run", "--disable-quic", "--window-size=1280,900",
                        format!("--user-data-dir={}", profile.display()),
                    ],
                    "prefs": {
                        "download.default_directory": profile.join("downloads").display().to_string(),
                        "download.prompt_for_download": false,
                    }
                }
            }}
        });
        let mut res = client
            .post(format!("{base}/session"))
            .send_json(&caps)
            .await
            .expect("new session");
        let v: Value = res.json().limit(1 << 20).await.expect("session json");
        let session = v["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_string();
        Driver {
            child,
            base,
            session,
            client,
            profile,
        }
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let req = match method {
            "GET" => self.client.get(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.post(url),
        };
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None if method == "POST" => req.send_json(&json!({})).await,
            None => req.send().await,
        }
        .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = res.json().limit(64 << 20).await.expect("WebDriver json");
        if let Some(err) = v["value"]["error"].as_str() {
            panic!(
                "WebDriver {method} {path}: {err}: {}",
                v["value"]["message"]
            );
        }
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).await;
    }

    pub async fn current_url(&self) -> String {
        self.cmd("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn title(&self) -> String {
        self.cmd("GET", "/title", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    async fn find_by(&self, using: &str, value: &str) -> Option<Element> {
        let url = format!("{}/session/{}/element", self.base, self.session);
        let mut res = self
            .client
            .post(url)
            .send_json(&json!({ "using": using, "value": value }))
            .await
            .expect("find element");
        let v: Value = res.json().limit(1 << 20).await.expect("json");
        v["value"][ELEMENT_KEY]
            .as_str()
            .map(|id| Element(id.to_string()))
    }

    /// Waits up to 5 s for an element matching `css`.
    pub async fn find(&self, css: &str) -> Element {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(e) = self.find_by("css selector", css).await {
                return e;
            }
            assert!(Instant::now() < deadline, "no element matches {css}");
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The form control whose visible `<label>` reads `label`, as a person finds it.
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!("//label[normalize-space(.)='{label}']");
        let label_el = self
            .find_by("xpath", &xpath)
            .await
            .unwrap_or_else(|| panic!("no label reads {label:?}"));
        let target = self.attribute(&label_el, "for").await;
        match target {
            Some(id) => self.find(&format!("[id='{id}']")).await,
            None => panic!("label {label:?} is not tied to a control"),
        }
    }

    /// The button (or submit input) whose text is `text`.
    pub async fn button(&self, text: &str) -> Element {
        let xpath = format!(
            "//button[normalize-space(.)='{text}'] | //input[@type='submit' and @value='{text}']"
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(e) = self.find_by("xpath", &xpath).await {
                return e;
            }
            assert!(Instant::now() < deadline, "no button reads {text:?}");
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A link whose text, or the text of one of its parts, is `text`.
    pub async fn link(&self, text: &str) -> Element {
        let xpath =
            format!("//a[normalize-space(.)='{text}' or .//*[normalize-space(.)='{text}']]");
        self.find_by("xpath", &xpath)
            .await
            .unwrap_or_else(|| panic!("no link reads {text:?}"))
    }

    /// Where downloads land.
    pub fn download_dir(&self) -> PathBuf {
        self.profile.join("downloads")
    }

    /// Waits for a download named `name` to be complete and returns its bytes.
    pub async fn downloaded(&self, name: &str) -> Vec<u8> {
        let path = self.download_dir().join(name);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(bytes) = std::fs::read(&path) {
                return bytes;
            }
            assert!(Instant::now() < deadline, "{name} was not downloaded");
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Chooses `path` in a file input, as a person does with the file picker.
    pub async fn choose_file(&self, e: &Element, path: &std::path::Path) {
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": path.display().to_string() })),
        )
        .await;
    }

    pub async fn type_into(&self, e: &Element, text: &str) {
        self.cmd("POST", &format!("/element/{}/clear", e.0), None)
            .await;
        self.cmd(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Scrolls `e` to the middle of the view, as a person does before clicking
    /// something near the sticky bottom bar.
    pub async fn scroll_to(&self, e: &Element) {
        let mut arg = serde_json::Map::new();
        arg.insert(ELEMENT_KEY.to_string(), Value::String(e.0.clone()));
        self.cmd("POST", "/execute/sync", Some(json!({ "script": "arguments[0].scrollIntoView({block: 'center'});", "args": [Value::Object(arg)] })))
            .await;
    }

    pub async fn click(&self, e: &Element) {
        self.cmd("POST", &format!("/element/{}/click", e.0), None)
            .await;
    }

    pub async fn text(&self, e: &Element) -> String {
        self.cmd("GET", &format!("/element/{}/text", e.0), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{}/attribute/{name}", e.0), None)
            .await
            .as_str()
            .map(str::to_string)
    }

    /// How far the page scrolls sideways, in CSS pixels (0 when it fits).
    pub async fn overflow(&self) -> i64 {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": "return document.documentElement.scrollWidth - document.documentElement.clientWidth;", "args": [] })),
        )
        .await
        .as_i64()
        .unwrap_or(i64::MAX)
    }

    /// Runs `script` in the page and returns what it returns.
    pub async fn run_script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    /// Presses `key` wherever the focus is, as a person at the keyboard does
    /// (WebDriver's key codes for special keys: Enter is "\u{E007}").
    pub async fn press(&self, key: &str) {
        self.cmd(
            "POST",
            "/actions",
            Some(
                json!({ "actions": [{ "type": "key", "id": "keyboard", "actions": [
                { "type": "keyDown", "value": key }, { "type": "keyUp", "value": key }
            ] }] }),
            ),
        )
        .await;
    }

    /// The id (or, without one, the tag name) of the focused element.
    pub async fn focused(&self) -> String {
        self.run_script(
            "var e = document.activeElement; return e ? (e.id || e.tagName.toLowerCase()) : '';",
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_string()
    }

    /// The height of the page's header in CSS pixels.
    pub async fn header_height(&self) -> f64 {
        self.run_script(
            "var h = document.querySelector('header'); return h ? h.getBoundingClientRect().height : 0;",
        )
        .await
        .as_f64()
        .unwrap_or(f64::MAX)
    }

    /// Makes the page see the system's dark (or light) colour scheme, as
    /// Chromium's DevTools protocol emulates it.
    pub async fn prefer_dark(&self, dark: bool) {
        let value = if dark { "dark" } else { "light" };
        self.cmd(
            "POST",
            "/goog/cdp/execute",
            Some(json!({
                "cmd": "Emulation.setEmulatedMedia",
                "params": { "features": [{ "name": "prefers-color-scheme", "value": value }] }
            })),
        )
        .await;
    }

    /// Runs axe-core (`source`, its `axe.min.js`) on the page: its serious
    /// and critical violations, each as "rule: the elements".
    pub async fn axe(&self, source: &str) -> Vec<String> {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": source, "args": [] })),
        )
        .await;
        let found = self
            .cmd(
                "POST",
                "/execute/async",
                Some(json!({
                    "script": "const done = arguments[arguments.length - 1]; \
                        axe.run(document, { resultTypes: ['violations'] }).then(r => done(r.violations \
                          .filter(v => v.impact === 'serious' || v.impact === 'critical') \
                          .map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))), \
                          e => done(['axe failed: ' + e]));",
                    "args": []
                })),
            )
            .await;
        found
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_else(|| vec![format!("axe gave no answer: {found}")])
    }

    /// Text of the whole page body, as rendered; empty while a page is loading.
    pub async fn page_text(&self) -> String {
        let url = format!("{}/session/{}/execute/sync", self.base, self.session);
        let script =
            json!({ "script": "return document.body ? document.body.innerText : '';", "args": [] });
        let Ok(mut res) = self.client.post(url).send_json(&script).await else {
            return String::new();
        };
        let v: Value = res.json().limit(16 << 20).await.unwrap_or_default();
        v["value"].as_str().unwrap_or_default().to_string()
    }

    /// Waits until the page text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.page_text().await.contains(needle) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "page never showed {needle:?}; it shows:\n{}",
                self.page_text().await
            );
            actix_rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG of the viewport under target/screenshots/.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let data = self.cmd("GET", "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("base64 screenshot");
        let dir = super::target_dir().join("screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }

    /// Sets a cookie for the current page's site (navigate there first).
    pub async fn add_cookie(&self, name: &str, value: &str) {
        self.cmd(
            "POST",
            "/cookie",
            Some(json!({ "cookie": { "name": name, "value": value, "path": "/" } })),
        )
        .await;
    }

    pub async fn set_window_size(&self, width: u32, height: u32) {
        self.cmd(
            "POST",
            "/window/rect",
            Some(json!({ "width": width, "height": height })),
        )
        .await;
    }

    pub async fn quit(mut self) {
        let _ = self
            .client
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
