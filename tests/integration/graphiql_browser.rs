//! The GraphiQL playground works without internet: headless Chromium, driven through
//! chromedriver's WebDriver API, opens `/graphiql` on a hub serving the self-hosted bundles, runs
//! `{ __typename }` with the page's own GraphiQL (its editor and run button) and reads the answer
//! from the result pane; every request the browser made went to the hub. Without the bundles,
//! `/graphiql` loads the same pinned files from a CDN, with integrity hashes checked here against
//! the fetched files.
//!
//! Needs `/usr/bin/chromium` and `/usr/bin/chromedriver` (Debian packages `chromium` and
//! `chromium-driver`; `scripts/test.sh` installs them) and the bundles in `assets/graphiql`, which this
//! test fetches with `scripts/fetch-graphiql-assets.sh` (npm registry) when they are missing.
//! Chromium resolves no host name but 127.0.0.1 and sends anything else to a closed local proxy
//! port, so even a page that tried could not reach the internet.

use crate::common;

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

use anyhow::{Context, anyhow, bail, ensure};
use serde_json::{Value, json};
use tenant_hub::http::graphiql::{
    ASSET_FILES, ASSETS, BOOT_FILE, CDN_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long GraphiQL may take to render, and the query to answer.
const UI_TIMEOUT: Duration = Duration::from_secs(20);

/// The bundles in `assets/graphiql`, fetched once (per test process) when one is missing.
fn graphiql_assets() -> PathBuf {
    static ASSETS: OnceLock<PathBuf> = OnceLock::new();
    ASSETS
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let dir = root.join("assets/graphiql");
            let complete = |dir: &Path| {
                ASSET_FILES
                    .iter()
                    .all(|f| dir.join(f).metadata().is_ok_and(|m| m.len() > 0))
            };
            if !complete(&dir) {
                let script = root.join("scripts/fetch-graphiql-assets.sh");
                eprintln!(
                    "GraphiQL assets missing in {}: running {}",
                    dir.display(),
                    script.display()
                );
                let status = Command::new("bash").arg(&script).arg(&dir).status();
                assert!(
                    matches!(status, Ok(s) if s.success()) && complete(&dir),
                    "the GraphiQL assets are missing in {} and {} failed ({status:?}); run \
                     `bash scripts/fetch-graphiql-assets.sh` (needs npm and the npm registry)",
                    dir.display(),
                    script.display(),
                );
            }
            dir
        })
        .clone()
}

fn require_browser() {
    for (binary, package) in [(CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")] {
        assert!(
            Path::new(binary).exists(),
            "{binary} is missing: install it with `apt-get install -y chromium chromium-driver` \
             (Debian package {package}; `bash scripts/test.sh` does this)"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_runs_a_query_in_headless_chromium_without_internet() {
    require_browser();
    let assets = graphiql_assets();
    let app = common::spawn_app_with(|s| s.graphiql_assets_dir = Some(assets.clone())).await;

    // The page and its files, as the browser will get them.
    let page = app
        .client
        .get(format!("{}/graphiql", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers()["content-security-policy"].to_str().unwrap(),
        CONTENT_SECURITY_POLICY
    );
    let html = page.text().await.unwrap();
    assert!(
        !html.contains("unpkg") && !html.contains("https://") && !html.contains("<script>"),
        "the self-hosted page loads nothing from elsewhere and has no inline script: {html}"
    );
    for name in ASSET_FILES.iter().chain([&BOOT_FILE]) {
        let start = html
            .find(&format!("/graphiql/assets/{name}?v="))
            .unwrap_or_else(|| panic!("the page does not load {name}: {html}"));
        let url = &html[start..start + html[start..].find('"').unwrap()];
        let res = app
            .client
            .get(format!("{}{url}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{url}");
        let content_type = if name.ends_with(".css") {
            "text/css; charset=utf-8"
        } else {
            "text/javascript; charset=utf-8"
        };
        assert_eq!(res.headers()["content-type"], content_type, "{url}");
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{url}"
        );
    }
    for path in [
        "/graphiql/assets/package.json",
        "/graphiql/assets/graphiql.min.js.map",
        "/graphiql/assets/..%2F..%2FCargo.toml",
        "/graphiql/assets/%2e%2e%2f%2e%2e%2fCargo.toml",
    ] {
        let res = app
            .client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
    }

    // The browser.
    let driver = ChromeDriver::start();
    let session = driver
        .new_session()
        .await
        .unwrap_or_else(|e| panic!("cannot start headless Chromium: {e:#}{}", driver.log_tail()));
    let outcome = use_the_playground(&session, &app.address).await;
    let _ = session.quit().await;
    if let Err(e) = outcome {
        panic!("{e:#}{}", driver.log_tail());
    }
}

/// Loads the playground, runs `{ __typename }` through its editor and run button, and checks
/// what the page requested and logged.
async fn use_the_playground(session: &Session<'_>, hub: &str) -> anyhow::Result<()> {
    session
        .post("url", json!({ "url": format!("{hub}/graphiql") }))
        .await
        .context("loading /graphiql")?;

    let rendered = session
        .wait_for(
            "GraphiQL to render",
            "const q = document.querySelector('.graphiql-query-editor .CodeMirror');
             return !!(q && q.CodeMirror && document.querySelector('.graphiql-execute-button'));",
            |v| v == &json!(true),
        )
        .await;
    if let Err(e) = rendered {
        let body = session
            .script("return document.body ? document.body.innerText.slice(0, 500) : ''")
            .await
            .unwrap_or_default();
        let requested = session.requested_urls().await.unwrap_or_default();
        let log = session.log("browser").await.unwrap_or_default();
        bail!("{e:#}\npage text: {body}\nrequested: {requested:#?}\nbrowser log: {log:#}");
    }

    // The header editor shows where the token goes.
    let tools = session
        .script(
            "return Array.from(document.querySelectorAll('.graphiql-editor-tool .CodeMirror'))
                 .map(e => e.CodeMirror.getValue()).join('\\n')",
        )
        .await?;
    ensure!(
        tools
            .as_str()
            .is_some_and(|t| t.contains(r#""Authorization": "Bearer <token>""#)),
        "the header editor is not preset with the Authorization placeholder: {tools}"
    );

    // The query, in GraphiQL's own editor, run with its run button.
    session
        .script(
            "document.querySelector('.graphiql-query-editor .CodeMirror')
                 .CodeMirror.setValue('{ __typename }')",
        )
        .await?;
    let button = session
        .post(
            "element",
            json!({ "using": "css selector", "value": ".graphiql-execute-button" }),
        )
        .await?;
    let button = button
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(Value::as_str)
        .ok_or_else(|| anyhow!("no element id in {button}"))?
        .to_owned();
    session
        .post(&format!("element/{button}/click"), json!({}))
        .await
        .context("clicking the run button")?;
    let result = session
        .wait_for(
            "the result pane to show the answer",
            "const r = document.querySelector('.graphiql-response .CodeMirror');
             return r && r.CodeMirror ? r.CodeMirror.getValue() : '';",
            |v| {
                v.as_str()
                    .is_some_and(|s| s.contains(r#""__typename": "Query""#))
            },
        )
        .await?;
    ensure!(
        !result.as_str().unwrap_or_default().contains("errors"),
        "{result}"
    );

    // Everything the page loaded came from the hub (the page's own view) ...
    let resources = session
        .script(
            "return [location.href].concat(
                 performance.getEntriesByType('resource').map(e => e.name))",
        )
        .await?;
    let resources: Vec<String> = serde_json::from_value(resources)?;
    let foreign: Vec<_> = resources
        .iter()
        .filter(|u| !u.starts_with(&format!("{hub}/")))
        .collect();
    ensure!(foreign.is_empty(), "resources from elsewhere: {foreign:?}");
    ensure!(
        resources.contains(&format!("{hub}/graphql")),
        "the query did not go to {hub}/graphql: {resources:?}"
    );

    // ... and the browser's: every network request of the session (DevTools Network events).
    let requests = session.requests().await?;
    let network: Vec<&Request> = requests
        .iter()
        .filter(|r| {
            ["http:", "https:", "ws:", "wss:"]
                .iter()
                .any(|s| r.url.starts_with(s))
        })
        .collect();
    let foreign: Vec<_> = network
        .iter()
        .filter(|r| !r.url.starts_with(&format!("{hub}/")))
        .map(|r| &r.url)
        .collect();
    ensure!(foreign.is_empty(), "requests to other hosts: {foreign:?}");
    let posts: Vec<_> = network
        .iter()
        .filter(|r| r.url == format!("{hub}/graphql") && r.method == "POST")
        .collect();
    ensure!(!posts.is_empty(), "no POST to /graphql: {network:#?}");
    // The placeholder token is not sent: the query ran anonymously.
    ensure!(
        posts.iter().all(|r| !r.has_authorization),
        "a request carried the placeholder Authorization header"
    );

    // No CSP violation, failed load or script error.
    let log = session.log("browser").await?;
    let severe: Vec<&Value> = log
        .as_array()
        .map(|a| a.iter().filter(|e| e["level"] == "SEVERE").collect())
        .unwrap_or_default();
    ensure!(severe.is_empty(), "the browser logged errors: {severe:#?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_falls_back_to_the_cdn_page_without_assets() {
    let empty = std::env::temp_dir().join(format!(
        "tenant-hub-graphiql-empty-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&empty).unwrap();
    for dir in [None, Some(empty.clone())] {
        let app = common::spawn_app_with(|s| s.graphiql_assets_dir = dir.clone()).await;
        let res = app
            .client
            .get(format!("{}/graphiql", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(
            res.headers()["content-security-policy"],
            CDN_CONTENT_SECURITY_POLICY
        );
        let html = res.text().await.unwrap();
        for asset in ASSETS {
            assert!(
                html.contains(&asset.cdn_url()) && html.contains(asset.integrity),
                "{dir:?}: {html}"
            );
        }
        let res = app
            .client
            .get(format!("{}/graphiql/assets/graphiql.min.js", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{dir:?}");
    }
    std::fs::remove_dir_all(empty).unwrap();
}

/// The CDN page's integrity hashes are those of the exact files the fetch script pins (it
/// checks their sha256): a browser would refuse any other file, and these must not drift.
#[test]
fn the_cdn_integrity_hashes_are_those_of_the_pinned_files() {
    use base64::Engine;
    use sha2::{Digest, Sha384};
    let dir = graphiql_assets();
    for asset in ASSETS {
        let bytes = std::fs::read(dir.join(asset.file)).unwrap();
        let actual = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&bytes))
        );
        assert_eq!(
            actual, asset.integrity,
            "{} ({})",
            asset.file, asset.package
        );
    }
}

/// chromedriver on a free local port; shut down (with its browsers) and removed when dropped.
struct ChromeDriver {
    process: Child,
    port: u16,
    base: String,
    http: reqwest::Client,
    dir: PathBuf,
}

impl ChromeDriver {
    fn start() -> ChromeDriver {
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

    async fn new_session(&self) -> anyhow::Result<Session<'_>> {
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
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1".to_owned(),
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
    async fn command(
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

    fn log_tail(&self) -> String {
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

struct Session<'a> {
    driver: &'a ChromeDriver,
    id: String,
}

/// A request the browser sent, from DevTools' `Network.requestWillBeSent`.
#[derive(Debug)]
struct Request {
    url: String,
    method: String,
    has_authorization: bool,
}

impl Session<'_> {
    async fn post(&self, command: &str, body: Value) -> anyhow::Result<Value> {
        self.driver
            .command(
                reqwest::Method::POST,
                &format!("session/{}/{command}", self.id),
                Some(body),
            )
            .await
    }

    /// Runs `body` as a synchronous script in the page; returns what it returns.
    async fn script(&self, body: &str) -> anyhow::Result<Value> {
        self.post("execute/sync", json!({ "script": body, "args": [] }))
            .await
    }

    /// Runs `script` every 100 ms until `done` accepts its value (returned), at most
    /// [`UI_TIMEOUT`].
    async fn wait_for(
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
    async fn log(&self, kind: &str) -> anyhow::Result<Value> {
        self.post("se/log", json!({ "type": kind })).await
    }

    /// The requests the browser has sent in this session (from the performance log).
    async fn requests(&self) -> anyhow::Result<Vec<Request>> {
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
    async fn requested_urls(&self) -> anyhow::Result<Value> {
        self.script("return performance.getEntriesByType('resource').map(e => e.name)")
            .await
    }

    async fn quit(&self) -> anyhow::Result<Value> {
        self.driver
            .command(
                reqwest::Method::DELETE,
                &format!("session/{}", self.id),
                None,
            )
            .await
    }
}
