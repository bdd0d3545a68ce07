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

use crate::common::{
    self,
    browser::{ChromeDriver, Request, Session, require_browser},
};

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use anyhow::{Context, anyhow, bail, ensure};
use serde_json::{Value, json};
use tenant_hub::http::graphiql::{
    ASSET_FILES, ASSETS, BOOT_FILE, CDN_CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY,
};

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
