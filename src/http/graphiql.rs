//! The GraphiQL playground at `/graphiql`, usable without internet access.
//!
//! Given a folder holding the pinned GraphiQL and React bundles (`HUB_GRAPHIQL_ASSETS_DIR`,
//! filled by `scripts/fetch-graphiql-assets.sh`; the bundles are never committed), `/graphiql`
//! is a page of the hub's own: it loads those four files from `/graphiql/assets/<file>` and
//! starts GraphiQL from a fifth, generated script (`graphiql-boot.js`), so the page has no inline
//! script and its Content-Security-Policy allows nothing but the hub. The header editor is
//! preset with `{"Authorization": "Bearer <token>"}`; while the placeholder is still there,
//! requests go out without that header (anonymous), so queries such as `{ __typename }` work
//! before logging in.
//!
//! Without a folder, or while any of the four files is missing, `/graphiql` is async-graphql's
//! page instead, which loads GraphiQL and React from a public CDN.

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicBool, Ordering},
    time::UNIX_EPOCH,
};

use actix_web::{HttpResponse, http::header, web};
use async_graphql::http::GraphiQLSource;
use sha2::{Digest, Sha256};

/// The third-party files the self-hosted page loads, named as the fetch script writes them.
pub const ASSET_FILES: [&str; 4] = [
    "graphiql.min.css",
    "react.production.min.js",
    "react-dom.production.min.js",
    "graphiql.min.js",
];

/// The generated script that starts GraphiQL on the self-hosted page.
pub const BOOT_FILE: &str = "graphiql-boot.js";

/// Where the page loads its files from.
pub const ASSETS_PATH: &str = "/graphiql/assets";

/// The Content-Security-Policy of the self-hosted page: the hub's own scripts, styles and
/// GraphQL endpoint only (GraphiQL sets inline styles; its fonts are `data:` URLs).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
     font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Assets are requested with `?v=<fingerprint>` of their current content, so they may be cached
/// for good.
const ASSET_CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The placeholder of the header editor; an Authorization header still holding it is not sent.
const TOKEN_PLACEHOLDER: &str = "<token>";

const DEFAULT_QUERY: &str = "\
# tenant-hub GraphQL playground (served by the hub itself: no internet needed).
#
# Queries run anonymously until you put an access token into the Headers tab
# below, replacing <token> in {\"Authorization\": \"Bearer <token>\"}. Get one with:
#
#   mutation { login(input: {tenant: \"acme.example.com\", email: \"you@acme.example.com\",
#     password: \"...\"}) { accessToken } }
#
# Run a query with Ctrl-Enter or the run button.

{ __typename }
";

struct Playground {
    assets_dir: Option<PathBuf>,
    boot_js: String,
    boot_version: String,
    cdn_page: String,
    warned_missing: AtomicBool,
}

/// Registers `GET /graphiql` and `GET /graphiql/assets/{file}`. `assets_dir` is the folder of
/// the four [`ASSET_FILES`] (`None`: always the CDN page); `endpoint` is the GraphQL endpoint
/// the playground talks to (`/graphql`).
pub fn configure(cfg: &mut web::ServiceConfig, assets_dir: Option<PathBuf>, endpoint: &str) {
    let playground = web::Data::new(Playground::new(assets_dir, endpoint));
    cfg.service(
        web::resource("/graphiql")
            .app_data(playground.clone())
            .route(web::get().to(page)),
    )
    .service(
        web::resource(format!("{ASSETS_PATH}/{{file}}"))
            .app_data(playground)
            .route(web::get().to(asset)),
    );
}

impl Playground {
    fn new(assets_dir: Option<PathBuf>, endpoint: &str) -> Playground {
        let boot_js = boot_script(endpoint);
        let boot_version = fingerprint(boot_js.as_bytes());
        let cdn_page = GraphiQLSource::build()
            .endpoint(endpoint)
            .title("tenant-hub GraphiQL")
            .finish();
        Playground {
            assets_dir,
            boot_js,
            boot_version,
            cdn_page,
            warned_missing: AtomicBool::new(false),
        }
    }

    /// The fingerprints of the four files, or `None` when the folder is not configured or a
    /// file is missing.
    fn local_versions(&self) -> Option<Vec<String>> {
        let dir = self.assets_dir.as_deref()?;
        let versions = local_versions(dir);
        if versions.is_none() && !self.warned_missing.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                dir = %dir.display(),
                "GraphiQL assets missing: /graphiql loads GraphiQL from a public CDN; run \
                 scripts/fetch-graphiql-assets.sh"
            );
        }
        versions
    }
}

/// One fingerprint per file of [`ASSET_FILES`] (from its size and modification time, so a
/// re-fetched file gets a new URL), or `None` when one is not a non-empty regular file.
fn local_versions(dir: &Path) -> Option<Vec<String>> {
    ASSET_FILES
        .iter()
        .map(|name| {
            let meta = std::fs::metadata(dir.join(name)).ok()?;
            if !meta.is_file() || meta.len() == 0 {
                return None;
            }
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            Some(fingerprint(
                format!("{name}:{}:{modified}", meta.len()).as_bytes(),
            ))
        })
        .collect()
}

fn fingerprint(bytes: &[u8]) -> String {
    hex::encode(&Sha256::digest(bytes)[..8])
}

async fn page(playground: web::Data<Playground>) -> HttpResponse {
    match playground.local_versions() {
        Some(versions) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .body(self_hosted_page(&versions, &playground.boot_version)),
        None => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(playground.cdn_page.clone()),
    }
}

/// The page loading the four files and the boot script, each with its fingerprint.
fn self_hosted_page(versions: &[String], boot_version: &str) -> String {
    let url = |name: &str, version: &str| format!("{ASSETS_PATH}/{name}?v={version}");
    let [css, react, react_dom, graphiql] = ASSET_FILES;
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>tenant-hub GraphiQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href="{css}">
    <style>
      body {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src="{react}"></script>
    <script src="{react_dom}"></script>
    <script src="{graphiql}"></script>
    <script src="{boot}"></script>
  </body>
</html>
"#,
        css = url(css, &versions[0]),
        react = url(react, &versions[1]),
        react_dom = url(react_dom, &versions[2]),
        graphiql = url(graphiql, &versions[3]),
        boot = url(BOOT_FILE, boot_version),
    )
}

/// The script that renders GraphiQL against `endpoint`. Values are embedded as JSON strings.
fn boot_script(endpoint: &str) -> String {
    let json = |s: &str| serde_json::to_string(s).expect("a string serializes");
    let headers = format!("{{\n  \"Authorization\": \"Bearer {TOKEN_PLACEHOLDER}\"\n}}\n");
    format!(
        r#"// Generated by tenant-hub: starts GraphiQL (loaded by the page before this script).
(function () {{
  "use strict";
  var endpoint = new URL({endpoint}, window.location.href).toString();
  var placeholder = {placeholder};

  // The header editor starts with a placeholder token: an Authorization header that still holds
  // it (or holds no token at all) is left out, so the request is anonymous instead of refused.
  function hubFetch(url, options) {{
    var opts = Object.assign({{}}, options, {{ credentials: "same-origin" }});
    var headers = new Headers(opts.headers || {{}});
    var auth = headers.get("Authorization");
    if (auth !== null && (auth.indexOf(placeholder) !== -1 || /^\s*(bearer)?\s*$/i.test(auth))) {{
      headers.delete("Authorization");
    }}
    opts.headers = headers;
    return window.fetch(url, opts);
  }}

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {{
      fetcher: GraphiQL.createFetcher({{ url: endpoint, fetch: hubFetch }}),
      defaultQuery: {query},
      defaultHeaders: {headers},
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    }})
  );
}})();
"#,
        endpoint = json(endpoint),
        placeholder = json(TOKEN_PLACEHOLDER),
        query = json(DEFAULT_QUERY),
        headers = json(&headers),
    )
}

/// Serves one of the five known files by exact name; any other name is 404, so no path reaches
/// the file system.
async fn asset(playground: web::Data<Playground>, file: web::Path<String>) -> HttpResponse {
    let file = file.into_inner();
    if file == BOOT_FILE {
        return asset_response(BOOT_FILE).body(playground.boot_js.clone());
    }
    let (Some(name), Some(dir)) = (
        ASSET_FILES.iter().find(|known| **known == file),
        playground.assets_dir.clone(),
    ) else {
        return not_found();
    };
    let path = dir.join(name);
    match web::block(move || std::fs::read(path)).await {
        Ok(Ok(bytes)) => asset_response(name).body(bytes),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => not_found(),
        Ok(Err(e)) => {
            tracing::warn!(file = name, error = %e, "cannot read a GraphiQL asset");
            HttpResponse::InternalServerError().finish()
        }
        Err(e) => {
            tracing::warn!(file = name, error = %e, "cannot read a GraphiQL asset");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn asset_response(name: &str) -> actix_web::HttpResponseBuilder {
    let content_type = if name.ends_with(".css") {
        "text/css; charset=utf-8"
    } else {
        "text/javascript; charset=utf-8"
    };
    let mut builder = HttpResponse::Ok();
    builder
        .content_type(content_type)
        .insert_header((header::CACHE_CONTROL, ASSET_CACHE_CONTROL));
    builder
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("not found")
}

#[cfg(test)]
mod tests {
    use actix_web::{App, test};

    use super::*;

    fn assets_dir(files: &[&str]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "tenant-hub-graphiql-unit-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        for f in files {
            std::fs::write(dir.join(f), format!("/* {f} */")).unwrap();
        }
        dir
    }

    /// Status, headers (lower-case names) and body of `GET uri`.
    async fn get(
        dir: Option<PathBuf>,
        uri: &str,
    ) -> (u16, std::collections::HashMap<String, String>, String) {
        let app =
            test::init_service(App::new().configure(|cfg| configure(cfg, dir, "/graphql"))).await;
        let res = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
            .collect();
        let body = test::read_body(res).await;
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    #[actix_web::test]
    async fn serves_its_own_page_when_the_four_files_are_there() {
        let dir = assets_dir(&ASSET_FILES);
        let (status, headers, body) = get(Some(dir.clone()), "/graphiql").await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-security-policy"], CONTENT_SECURITY_POLICY);
        for name in ASSET_FILES.iter().chain([&BOOT_FILE]) {
            assert!(
                body.contains(&format!("src=\"/graphiql/assets/{name}?v="))
                    || body.contains(&format!("href=\"/graphiql/assets/{name}?v="))
            );
        }
        assert!(!body.contains("http"), "no absolute URL: {body}");
        assert!(!body.contains("<script>"), "no inline script: {body}");

        let (status, headers, body) =
            get(Some(dir.clone()), "/graphiql/assets/graphiql.min.css").await;
        assert_eq!((status, body.as_str()), (200, "/* graphiql.min.css */"));
        assert_eq!(headers["content-type"], "text/css; charset=utf-8");
        assert_eq!(headers["cache-control"], ASSET_CACHE_CONTROL);

        let (status, headers, body) =
            get(Some(dir.clone()), "/graphiql/assets/graphiql-boot.js").await;
        assert_eq!(status, 200);
        assert_eq!(headers["content-type"], "text/javascript; charset=utf-8");
        assert!(body.contains(r#"new URL("/graphql""#), "{body}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[actix_web::test]
    async fn serves_only_the_known_names() {
        let dir = assets_dir(&ASSET_FILES);
        std::fs::write(dir.join("secret.txt"), "secret").unwrap();
        for uri in [
            "/graphiql/assets/secret.txt",
            "/graphiql/assets/..%2Fsecret.txt",
            "/graphiql/assets/%2E%2E%2F%2E%2E%2FCargo.toml",
            "/graphiql/assets/../graphiql/assets/secret.txt",
            "/graphiql/assets/graphiql.min.js.map",
            "/graphiql/assets/",
        ] {
            let (status, _, body) = get(Some(dir.clone()), uri).await;
            assert_eq!(status, 404, "{uri}");
            assert!(!body.contains("secret"), "{uri}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[actix_web::test]
    async fn falls_back_to_the_cdn_page() {
        let partial = assets_dir(&ASSET_FILES[..3]);
        for dir in [None, Some(partial.clone())] {
            let (status, headers, body) = get(dir.clone(), "/graphiql").await;
            assert_eq!(status, 200);
            assert!(!headers.contains_key("content-security-policy"));
            assert!(body.contains("https://unpkg.com/graphiql"), "{body}");
            let (status, _, _) = get(dir, "/graphiql/assets/graphiql.min.js").await;
            assert_eq!(status, 404);
        }
        std::fs::remove_dir_all(partial).unwrap();
    }
}
