//! A certified relying-party library from outside the project against the hub: npm
//! `openid-client` (panva) runs tests/rp/openid_client.mjs, which does discovery, builds the
//! authorization URL (PKCE S256, state, nonce), exchanges the code with its own ID token
//! validation, reads userinfo and refreshes; this test plays the browser on the hub's hosted
//! pages (PageClient) and hands the callback URL back. Confidential (`client_secret_basic`)
//! and public clients (registered through GraphQL and the CLI); a tampered `state` is refused
//! by the library before any exchange.

use std::{
    io::{BufRead, BufReader, Write},
    path::PathBuf,
    process::{Child, ChildStdin, Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use serde_json::{Value, json};

use crate::common::{self, PASSWORD, TenantFixture, TestApp, count, operation, pages::PageClient};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// tests/rp/openid_client.mjs as a child process, stopped when dropped.
struct Rp {
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::Receiver<String>,
}

impl Rp {
    fn start(settings: Value) -> Rp {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let mut child = Command::new("node")
            .arg(root.join("tests/rp/openid_client.mjs"))
            .arg(settings.to_string())
            .env(
                "NODE_PATH",
                std::env::var("NODE_PATH").unwrap_or_else(|_| {
                    root.join("tests/tools/node_modules").display().to_string()
                }),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs tests/rp/openid_client.mjs (bash scripts/test.sh --setup-only)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Rp {
            child,
            stdin,
            lines,
        }
    }

    /// The next line starting with one of `prefixes`: (prefix, rest).
    async fn expect(&self, prefixes: &[&'static str]) -> (&'static str, String) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            match self.lines.try_recv() {
                Ok(line) => {
                    for p in prefixes {
                        if let Some(rest) = line.strip_prefix(&format!("{p} ")) {
                            return (p, rest.to_owned());
                        }
                    }
                }
                Err(mpsc::TryRecvError::Empty) if std::time::Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("openid_client.mjs said none of {prefixes:?} ({e:?})"),
            }
        }
    }

    fn send(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
        self.stdin.flush().unwrap();
    }
}

impl Drop for Rp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn hub_with_crm() -> (TestApp, TenantFixture, String) {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let body = app
        .gql(Some(&t.token), operation("GrantCrmFull"), json!({}))
        .await;
    assert!(body["data"]["setProductAccess"].is_object(), "{body}");
    let admin = app.platform_admin("root@hub.example.com").await;
    (app, t, admin)
}

/// Registers a confidential crm client through GraphQL; returns (client_id, client_secret).
async fn register(app: &TestApp, admin: &str) -> (String, Option<String>) {
    let body = app
        .gql(
            Some(admin),
            operation("CreateOauthClient"),
            json!({ "i": { "productId": "crm", "redirectUris": [REDIRECT] } }),
        )
        .await;
    let created = &body["data"]["createOauthClient"];
    assert!(created.is_object(), "{body}");
    (
        created["client"]["clientId"].as_str().unwrap().to_owned(),
        created["clientSecret"].as_str().map(str::to_owned),
    )
}

/// Registers a public crm client as an operator would: `tenant-hub oauth-client create`,
/// whose one JSON line has no secret.
fn register_with_cli(app: &TestApp) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tenant-hub"))
        .args(["oauth-client", "create", "--product", "crm", "--public"])
        .args(["--redirect-uri", REDIRECT])
        .args(["--database-url", &common::db_url(app.db_name())])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(line.get("client_secret").is_none(), "{line}");
    line["client_id"].as_str().unwrap().to_owned()
}

/// The browser's part: from the library's authorization URL through the hub's login pages to
/// the callback URL the hub redirects to (not followed: the library reads it).
async fn browse_to_callback(app: &TestApp, t: &TenantFixture, authorize: &str) -> String {
    assert!(
        authorize.starts_with(&format!("{}/oauth/authorize?", app.address)),
        "{authorize}"
    );
    let query: std::collections::HashMap<String, String> = url::Url::parse(authorize)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    assert_eq!(query["code_challenge_method"], "S256", "{authorize}");
    assert!(query.contains_key("nonce") && query.contains_key("state"));
    let browser = PageClient::new(&app.address);
    let first = browser.get(authorize).await;
    assert_eq!(first.status, 302, "{}", first.html);
    let login = first.location().unwrap().to_owned();
    let return_to = url::Url::parse(&format!("http://hub{login}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "return_to")
        .unwrap_or_else(|| panic!("to the login page: {login}"))
        .1
        .into_owned();
    let signed_in = browser
        .sign_in("", &t.owner_email, PASSWORD, &return_to)
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    let back = browser.get(&return_to).await;
    assert_eq!(back.status, 302, "{}", back.html);
    let callback = back.location().unwrap().to_owned();
    assert!(callback.starts_with(REDIRECT), "{callback}");
    callback
}

/// A full flow with the library; returns what it printed.
async fn full_flow(
    app: &TestApp,
    t: &TenantFixture,
    client_id: &str,
    secret: Option<&str>,
) -> Value {
    let mut rp = Rp::start(json!({
        "issuer": app.address,
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": REDIRECT,
    }));
    let (_, authorize) = rp.expect(&["AUTHORIZE"]).await;
    let callback = browse_to_callback(app, t, &authorize).await;
    rp.send(&callback);
    let (kind, body) = rp.expect(&["RESULT", "REFUSED"]).await;
    assert_eq!(kind, "RESULT", "the library refused: {body}");
    serde_json::from_str(&body).unwrap()
}

fn assert_signed_in(app: &TestApp, t: &TenantFixture, client_id: &str, out: &Value) {
    let claims = &out["id_token_claims"];
    assert_eq!(out["issuer"], app.address.as_str(), "{out}");
    assert_eq!(claims["iss"], app.address.as_str(), "{out}");
    assert_eq!(claims["aud"], client_id, "{out}");
    assert_eq!(claims["sub"], t.owner_uuid.to_string(), "{out}");
    assert_eq!(claims["tid"], t.uuid.to_string(), "{out}");
    assert_eq!(claims["email"], t.owner_email.as_str(), "{out}");
    assert!(
        claims["sid"].is_string() && claims["nonce"].is_string(),
        "{out}"
    );
    assert!(
        out["token_type"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("bearer")),
        "{out}"
    );
    assert_eq!(out["userinfo"]["sub"], t.owner_uuid.to_string(), "{out}");
    assert_eq!(out["userinfo"]["email"], t.owner_email.as_str(), "{out}");
    assert_eq!(out["refresh_token_rotated"], true, "{out}");
    assert_ne!(out["refreshed_access_token"], out["first_access_token"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_with_client_secret_basic_and_validates_the_id_token_itself() {
    let (app, t, admin) = hub_with_crm().await;
    let (client_id, secret) = register(&app, &admin).await;
    let out = full_flow(&app, &t, &client_id, secret.as_deref()).await;
    assert_signed_in(&app, &t, &client_id, &out);
    assert_eq!(out["token_endpoint_auth_method"], "client_secret_basic");
    // The hub recorded the grants to this client (code exchange, then the refresh).
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM audit_log WHERE tenant_id = '{}' AND action = 'oauth.token_issued' \
                 AND details->>'client_id' = '{client_id}'",
                t.uuid
            )
        )
        .await,
        2
    );
    // The refreshed access token works where the product reads the TenantContext.
    let ctx = app
        .client
        .get(format!("{}/tenant-context?product=crm", app.address))
        .bearer_auth(out["refreshed_access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ctx.status(), 200);
    let ctx: Value = ctx.json().await.unwrap();
    assert_eq!(
        ctx["products"],
        json!([{ "productId": "crm", "access": "full" }])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_signs_in_as_a_public_client_with_pkce_alone() {
    let (app, t, _) = hub_with_crm().await;
    let client_id = register_with_cli(&app);
    let out = full_flow(&app, &t, &client_id, None).await;
    assert_signed_in(&app, &t, &client_id, &out);
    assert_eq!(out["token_endpoint_auth_method"], "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openid_client_refuses_a_callback_whose_state_was_tampered_with() {
    let (app, t, admin) = hub_with_crm().await;
    let (client_id, secret) = register(&app, &admin).await;
    let mut rp = Rp::start(json!({
        "issuer": app.address,
        "client_id": client_id,
        "client_secret": secret,
        "redirect_uri": REDIRECT,
    }));
    let (_, authorize) = rp.expect(&["AUTHORIZE"]).await;
    let callback = browse_to_callback(&app, &t, &authorize).await;
    let mut tampered = url::Url::parse(&callback).unwrap();
    let pairs: Vec<(String, String)> = tampered
        .query_pairs()
        .into_owned()
        .map(|(k, v)| {
            if k == "state" {
                (k, format!("{v}-tampered"))
            } else {
                (k, v)
            }
        })
        .collect();
    tampered.query_pairs_mut().clear().extend_pairs(pairs);
    rp.send(tampered.as_str());
    let (kind, body) = rp.expect(&["RESULT", "REFUSED"]).await;
    assert_eq!(kind, "REFUSED", "{body}");
    let refusal: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(refusal["code"], "OAUTH_INVALID_RESPONSE", "{refusal}");
    assert!(
        refusal["cause"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"state\"")),
        "the library names the state as the reason: {refusal}"
    );
    // Refused before any exchange: the code was never presented to the hub.
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM oauth_codes WHERE tenant_id = '{}' AND used_at IS NULL",
                t.uuid
            )
        )
        .await,
        1
    );
}
