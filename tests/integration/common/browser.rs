//! A headless Chromium for the browser tests, driven through chromedriver's WebDriver API:
//! [`ChromeDriver::start`] on a free port, [`ChromeDriver::new_session`] for a fresh profile,
//! then [`Session`]'s commands (navigate, fill and submit forms, run scripts, read the requests
//! the browser sent). Chromium resolves no host name but 127.0.0.1 and sends anything else to a
//! closed local proxy port, so a page cannot reach the internet.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium` and
//! `chromium-driver`; `scripts/test.sh` installs them).

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail};
use serde_json::{Value, json};

pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long a page may take to show what a test waits for.
pub const UI_TIMEOUT: Duration = Duration::from_secs(20);

pub fn require_browser() {
    for (binary, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: install it with `apt-get install -y chromium chromium-driver` \
             (Debian package {package}; `bash scripts/test.sh` does this)"
        );
    }
}

/// chromedriver on a free local port; shut down (with its browsers) and removed when dropped.
pub struct ChromeDriver {
    process: Child,
    port: u16,
    base: String,
    http: reqwest::Client,
    dir: PathBuf,
}

impl ChromeDriver {
    pub fn start() -> ChromeDriver {
        let dir = std::env::temp_dir().join(format!(
            "tenant-hub-chromium-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .unwrap();
        // A free port can be taken between finding it and chromedriver binding it: retry.
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            let mut process = Command::new(CHROMEDRIVER)
                .arg(format!("--port={port}"))
                .arg(format!(
                    "--log-path={}",
                    dir.join("chromedriver.log").display()
                ))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}"));
            if wait_ready(&mut process, port, Duration::from_secs(10)) {
                return ChromeDriver {
                    process,
                    port,
                    base: format!("http://127.0.0.1:{port}"),
                    http,
                    dir,
                };
            }
            let _ = process.kill();
            let _ = process.wait();
        }
        let log = log_tail(&dir);
        let _ = std::fs::remove_dir_all(&dir);
        panic!("{CHROMEDRIVER} did not start within 10 s (three attempts){log}");
    }

    pub async fn new_session(&self) -> anyhow::Result<Session<'_>> {
        let profile = self.dir.join("profile");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            format!("--user-data-dir={}", profile.display()),
            "--window-size=1280,900".to_owned(),
            // No internet, whatever a page asks for: no name resolves but the hub's address,
            // and anything not on loopback goes to a closed local port.
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1 , EXCLUDE localhost"
                .to_owned(),
            "--proxy-server=http://127.0.0.1:9".to_owned(),
        ];
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "timeouts": { "pageLoad": 30_000, "script": 10_000 },
            "goog:chromeOptions": { "binary": CHROMIUM, "args": args },
            "goog:loggingPrefs": { "performance": "ALL", "browser": "ALL" },
        } } });
        let value = self
            .command(reqwest::Method::POST, "session", Some(caps))
            .await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| anyhow!("no session id in {value}"))?
            .to_owned();
        Ok(Session { driver: self, id })
    }

    /// A WebDriver command; returns its `value`, or the WebDriver error as an error.
    pub async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let mut req = self
            .http
            .request(method.clone(), format!("{}/{path}", self.base));
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req
            .send()
            .await
            .with_context(|| format!("{method} /{path}"))?;
        let status = res.status();
        let body: Value = res
            .json()
            .await
            .with_context(|| format!("{method} /{path}: not JSON"))?;
        let value = body["value"].clone();
        if !status.is_success() {
            bail!(
                "{method} /{path}: {status} {} {}",
                value["error"],
                value["message"]
            );
        }
        Ok(value)
    }

    pub fn log_tail(&self) -> String {
        log_tail(&self.dir)
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        // `/shutdown` ends chromedriver and the browsers it started (also after a panic).
        let _ = raw_get(self.port, "/shutdown");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.process.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Polls chromedriver's `GET /status` until it is ready (blocking: no session exists yet).
fn wait_ready(process: &mut Child, port: u16, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = process.try_wait() {
            return false;
        }
        if raw_get(port, "/status").is_some_and(|body| body.contains("\"ready\":true")) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The last lines of chromedriver's log, for failure messages.
fn log_tail(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("chromedriver.log")).unwrap_or_default();
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    format!("\n--- chromedriver log (last lines) ---\n{tail}")
}

/// A blocking `GET` on chromedriver's port, for use outside async code (and in `Drop`): the
/// response's head and body, read up to its Content-Length.
fn raw_get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&chunk[..n]),
        }
        let text = String::from_utf8_lossy(&response);
        if let Some(end) = text.find("\r\n\r\n") {
            let length = text[..end]
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if response.len() >= end + 4 + length {
                break;
            }
        }
    }
    (!response.is_empty()).then(|| String::from_utf8_lossy(&response).into_owned())
}

pub struct Session<'a> {
    driver: &'a ChromeDriver,
    id: String,
}

/// A request the browser sent, from DevTools' `Network.requestWillBeSent`.
#[derive(Debug)]
pub struct Request {
    pub url: String,
    pub method: String,
    pub has_authorization: bool,
}

impl Session<'_> {
    pub async fn post(&self, command: &str, body: Value) -> anyhow::Result<Value> {
        self.driver
            .command(
                reqwest::Method::POST,
                &format!("session/{}/{command}", self.id),
                Some(body),
            )
            .await
    }

    /// Runs `body` as a synchronous script in the page; returns what it returns.
    pub async fn script(&self, body: &str) -> anyhow::Result<Value> {
        self.post("execute/sync", json!({ "script": body, "args": [] }))
            .await
    }

    /// Runs `script` every 100 ms until `done` accepts its value (returned), at most
    /// [`UI_TIMEOUT`].
    pub async fn wait_for(
        &self,
        what: &str,
        script: &str,
        done: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Value> {
        let deadline = Instant::now() + UI_TIMEOUT;
        let mut last = Value::Null;
        while Instant::now() < deadline {
            last = self.script(script).await?;
            if done(&last) {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("timed out after {UI_TIMEOUT:?} waiting for {what}; last value: {last}")
    }

    /// The entries of one of the session's logs (`browser`, `performance`); reading empties it.
    pub async fn log(&self, kind: &str) -> anyhow::Result<Value> {
        self.post("se/log", json!({ "type": kind })).await
    }

    /// The requests the browser has sent in this session (from the performance log).
    pub async fn requests(&self) -> anyhow::Result<Vec<Request>> {
        let log = self.log("performance").await?;
        let mut out = Vec::new();
        for entry in log.as_array().into_iter().flatten() {
            let message: Value = serde_json::from_str(entry["message"].as_str().unwrap_or("{}"))?;
            let event = &message["message"];
            match event["method"].as_str() {
                Some("Network.requestWillBeSent") => {
                    let request = &event["params"]["request"];
                    out.push(Request {
                        url: request["url"].as_str().unwrap_or_default().to_owned(),
                        method: request["method"].as_str().unwrap_or_default().to_owned(),
                        has_authorization: request["headers"].as_object().is_some_and(|h| {
                            h.keys().any(|k| k.eq_ignore_ascii_case("authorization"))
                        }),
                    });
                }
                Some("Network.webSocketCreated") => out.push(Request {
                    url: event["params"]["url"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    method: "WEBSOCKET".to_owned(),
                    has_authorization: false,
                }),
                _ => {}
            }
        }
        Ok(out)
    }

    /// For failure messages: the URLs requested so far, as the page saw them.
    pub async fn requested_urls(&self) -> anyhow::Result<Value> {
        self.script("return performance.getEntriesByType('resource').map(e => e.name)")
            .await
    }

    pub async fn quit(&self) -> anyhow::Result<Value> {
        self.driver
            .command(
                reqwest::Method::DELETE,
                &format!("session/{}", self.id),
                None,
            )
            .await
    }

    /// Opens `url` and waits for the page to load.
    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.post("url", json!({ "url": url }))
            .await
            .with_context(|| format!("opening {url}"))?;
        Ok(())
    }

    /// The address the browser is at now.
    pub async fn url(&self) -> anyhow::Result<String> {
        let value = self
            .driver
            .command(
                reqwest::Method::GET,
                &format!("session/{}/url", self.id),
                None,
            )
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    /// The text of the page's body.
    pub async fn text(&self) -> anyhow::Result<String> {
        let value = self
            .script("return document.body ? document.body.innerText : ''")
            .await?;
        Ok(value.as_str().unwrap_or_default().to_owned())
    }

    async fn element(&self, css: &str) -> anyhow::Result<String> {
        let found = self
            .post("element", json!({ "using": "css selector", "value": css }))
            .await
            .with_context(|| format!("finding {css}"))?;
        found
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no element id for {css} in {found}"))
    }

    /// Types `text` into the field `css` (as a person would: key events, so the page's own
    /// form is what submits it).
    pub async fn fill(&self, css: &str, text: &str) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        self.post(&format!("element/{id}/clear"), json!({})).await?;
        self.post(&format!("element/{id}/value"), json!({ "text": text }))
            .await
            .with_context(|| format!("typing into {css}"))?;
        Ok(())
    }

    /// Clicks the element `css` (a button or link) and waits for a navigation it starts.
    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        let id = self.element(css).await?;
        self.post(&format!("element/{id}/click"), json!({}))
            .await
            .with_context(|| format!("clicking {css}"))?;
        Ok(())
    }

    /// On the hub's login page: the email (the identify step), then the password.
    pub async fn enter_email_and_password(
        &self,
        email: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        self.fill("#email", email).await?;
        self.click("#email ~ button[type=submit]").await?;
        self.wait_for_url("the password step", |u| u.ends_with("/login/identify"))
            .await?;
        self.fill("#password", password).await?;
        self.click("button[type=submit]").await
    }

    /// Adds a virtual WebAuthn authenticator (the WebDriver WebAuthn extension): CTAP2,
    /// internal, with resident keys and user verification that always passes. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> anyhow::Result<String> {
        let value = self
            .post(
                "webauthn/authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                }),
            )
            .await?;
        value
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("no authenticator id in {value}"))
    }

    /// Removes a virtual authenticator (and the credentials it holds).
    pub async fn remove_virtual_authenticator(&self, id: &str) -> anyhow::Result<()> {
        self.driver
            .command(
                reqwest::Method::DELETE,
                &format!("session/{}/webauthn/authenticator/{id}", self.id),
                None,
            )
            .await?;
        Ok(())
    }

    /// Deletes every cookie of the current page's site (signs the browser out of the hub).
    pub async fn delete_cookies(&self) -> anyhow::Result<()> {
        self.driver
            .command(
                reqwest::Method::DELETE,
                &format!("session/{}/cookie", self.id),
                None,
            )
            .await?;
        Ok(())
    }

    /// Waits until the browser's address satisfies `done`; returns it.
    pub async fn wait_for_url(
        &self,
        what: &str,
        done: impl Fn(&str) -> bool,
    ) -> anyhow::Result<String> {
        let deadline = Instant::now() + UI_TIMEOUT;
        let mut last = String::new();
        while Instant::now() < deadline {
            last = self.url().await?;
            if done(&last) {
                return Ok(last);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        bail!("timed out after {UI_TIMEOUT:?} waiting for {what}; the browser is at {last}")
    }
}
