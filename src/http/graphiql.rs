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
//! Without a folder, or while any of the four files is missing, `/graphiql` loads the same four
//! files from a public CDN instead: pinned to the exact versions the fetch script pins, each with
//! its Subresource Integrity hash (so a changed file on the CDN does not run), under a
//! Content-Security-Policy that adds only that CDN. The start-up warns when files are missing
//! ([`warn_if_assets_missing`]).

use std::{
    path::{Path, PathBuf},
    time::UNIX_EPOCH,
};

use actix_web::{HttpResponse, http::header, web};
use sha2::{Digest, Sha256};

/// A third-party file of the playground: its name in the assets folder, the npm package and
/// path it comes from (the versions `scripts/fetch-graphiql-assets.sh` pins), and the
/// Subresource Integrity hash of that exact file.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    pub file: &'static str,
    /// `name@version`, an exact version.
    pub package: &'static str,
    /// The file's path inside the package.
    pub path: &'static str,
    /// `sha384-<base64>` of the file, as in the npm tarball.
    pub integrity: &'static str,
}

impl Asset {
    /// Where the public CDN serves this exact file.
    pub fn cdn_url(&self) -> String {
        format!("{CDN_ORIGIN}/{}/{}", self.package, self.path)
    }
}

/// The four files, in the order the page loads them.
pub const ASSETS: [Asset; 4] = [
    Asset {
        file: "graphiql.min.css",
        package: "graphiql@4.1.2",
        path: "graphiql.min.css",
        integrity: "sha384-1el1QShFBnnXTx9x/Cprg82hZWKt0ry29OAYIXt05swbi0KcZDFoj0CWguMpopJr",
    },
    Asset {
        file: "react.production.min.js",
        package: "react@18.3.1",
        path: "umd/react.production.min.js",
        integrity: "sha384-DGyLxAyjq0f9SPpVevD6IgztCFlnMF6oW/XQGmfe+IsZ8TqEiDrcHkMLKI6fiB/Z",
    },
    Asset {
        file: "react-dom.production.min.js",
        package: "react-dom@18.3.1",
        path: "umd/react-dom.production.min.js",
        integrity: "sha384-gTGxhz21lVGYNMcdJOyq01Edg0jhn/c22nsx0kyqP0TxaV5WVdsSH1fSDUf5YJj1",
    },
    Asset {
        file: "graphiql.min.js",
        package: "graphiql@4.1.2",
        path: "graphiql.min.js",
        integrity: "sha384-9XdHu7ajgGJziD4J1zNBKQ842Q/+zZfDv+ib1eMhZWBH6hPAs806x+Jbcf0yNO6B",
    },
];

/// The third-party files the self-hosted page loads, named as the fetch script writes them.
pub const ASSET_FILES: [&str; 4] = [
    ASSETS[0].file,
    ASSETS[1].file,
    ASSETS[2].file,
    ASSETS[3].file,
];

/// The public CDN of the fallback page (it serves npm packages by exact version).
pub const CDN_ORIGIN: &str = "https://unpkg.com";

/// The generated script that starts GraphiQL on the self-hosted page.
pub const BOOT_FILE: &str = "graphiql-boot.js";

/// Where the page loads its files from.
pub const ASSETS_PATH: &str = "/graphiql/assets";

/// The Content-Security-Policy of the self-hosted page: the hub's own scripts, styles and
/// GraphQL endpoint only (GraphiQL sets inline styles; its fonts are `data:` URLs).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; \
     font-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The Content-Security-Policy of the CDN page: [`CONTENT_SECURITY_POLICY`] plus the CDN for
/// scripts and styles (each of which must also match its integrity hash).
pub const CDN_CONTENT_SECURITY_POLICY: &str = "default-src 'none'; \
     script-src 'self' https://unpkg.com; style-src 'self' 'unsafe-inline' https://unpkg.com; \
     connect-src 'self'; img-src 'self' data:; font-src 'self' data:; base-uri 'none'; \
     form-action 'none'; frame-ancestors 'none'";

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
}

/// Warns (once, at start) when the playground will load GraphiQL from the CDN because the
/// assets folder is not configured or misses a file; returns whether it warned.
pub fn warn_if_assets_missing(assets_dir: Option<&Path>) -> bool {
    let missing: Vec<&str> = match assets_dir {
        None => ASSET_FILES.to_vec(),
        Some(dir) => ASSET_FILES
            .iter()
            .copied()
            .filter(|name| {
                !std::fs::metadata(dir.join(name)).is_ok_and(|m| m.is_file() && m.len() > 0)
            })
            .collect(),
    };
    if missing.is_empty() {
        return false;
    }
    tracing::warn!(
        dir = assets_dir
            .map(|d| d.display().to_string())
            .unwrap_or_default(),
        missing = missing.join(","),
        "GraphiQL assets missing: /graphiql loads GraphiQL from a public CDN (pinned versions \
         with integrity hashes); run `bash scripts/fetch-graphiql-assets.sh` (needs npm) to \
         serve them from the hub"
    );
    true
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
        let cdn_page = cdn_page(&boot_version);
        Playground {
            assets_dir,
            boot_js,
            boot_version,
            cdn_page,
        }
    }

    /// The fingerprints of the four files, or `None` when the folder is not configured or a
    /// file is missing (checked per request, so fetched files are used without a restart).
    fn local_versions(&self) -> Option<Vec<String>> {
        local_versions(self.assets_dir.as_deref()?)
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
            .insert_header(("Content-Security-Policy", CDN_CONTENT_SECURITY_POLICY))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::REFERRER_POLICY, "same-origin"))
            .body(playground.cdn_page.clone()),
    }
}

/// The page loading the four files and the boot script, each with its fingerprint.
fn self_hosted_page(versions: &[String], boot_version: &str) -> String {
    let url = |name: &str, version: &str| format!("{ASSETS_PATH}/{name}?v={version}");
    let tags: Vec<String> = ASSET_FILES
        .iter()
        .zip(versions)
        .map(|(name, version)| format!("\"{}\"", url(name, version)))
        .collect();
    page_html(&tags, &url(BOOT_FILE, boot_version))
}

/// The page loading the four files from the CDN, each by exact version and with its integrity
/// hash (`crossorigin` makes the browser check it), and the boot script from the hub.
fn cdn_page(boot_version: &str) -> String {
    let tags: Vec<String> = ASSETS
        .iter()
        .map(|a| {
            format!(
                "\"{}\" integrity=\"{}\" crossorigin=\"anonymous\"",
                a.cdn_url(),
                a.integrity
            )
        })
        .collect();
    page_html(
        &tags,
        &format!("{ASSETS_PATH}/{BOOT_FILE}?v={boot_version}"),
    )
}

/// The playground's HTML: `sources` are the quoted URLs (with any further attributes) of the
/// four [`ASSET_FILES`], in their order; `boot` the boot script's URL.
fn page_html(sources: &[String], boot: &str) -> String {
    let [css, react, react_dom, graphiql] = [0, 1, 2, 3].map(|i| sources[i].as_str());
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="robots" content="noindex">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>tenant-hub GraphiQL</title>
    <link rel="icon" href="data:,">
    <link rel="stylesheet" href={css}>
    <style>
      body {{ height: 100%; margin: 0; width: 100%; overflow: hidden; }}
      #graphiql {{ height: 100vh; }}
    </style>
  </head>
  <body>
    <div id="graphiql">Loading GraphiQL…</div>
    <script src={react}></script>
    <script src={react_dom}></script>
    <script src={graphiql}></script>
    <script src="{boot}"></script>
  </body>
</html>
"#
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
            assert_eq!(
                headers["content-security-policy"],
                CDN_CONTENT_SECURITY_POLICY
            );
            // Each file by exact version, with its integrity hash, checked by the browser.
            for asset in ASSETS {
                let attrs = format!(
                    "\"{}\" integrity=\"{}\" crossorigin=\"anonymous\"",
                    asset.cdn_url(),
                    asset.integrity
                );
                assert!(body.contains(&attrs), "{attrs} in {body}");
            }
            assert!(body.contains("https://unpkg.com/react@18.3.1/umd/react.production.min.js"));
            assert_eq!(body.matches("integrity=").count(), 4, "{body}");
            assert!(!body.contains("<script>"), "no inline script: {body}");
            // Nothing but the hub and the CDN named in the policy.
            for url in body.split(['"', '\'']).filter(|p| p.contains("://")) {
                assert!(url.starts_with(&format!("{CDN_ORIGIN}/")), "{url}");
            }
            let (status, _, _) = get(dir.clone(), "/graphiql/assets/graphiql.min.js").await;
            assert_eq!(status, 404);
            let (status, _, boot) = get(dir, "/graphiql/assets/graphiql-boot.js").await;
            assert_eq!(status, 200);
            assert!(boot.contains("GraphiQL.createFetcher"), "{boot}");
        }
        std::fs::remove_dir_all(partial).unwrap();
    }

    #[actix_web::test]
    async fn pinned_versions_are_exact_and_integrity_hashes_are_sha384() {
        for asset in ASSETS {
            let (_, version) = asset.package.rsplit_once('@').unwrap();
            assert!(
                version.split('.').count() == 3
                    && version.split('.').all(|p| p.parse::<u32>().is_ok()),
                "{}",
                asset.package
            );
            let b64 = asset.integrity.strip_prefix("sha384-").unwrap();
            assert_eq!(b64.len(), 64, "{}", asset.integrity);
        }
    }

    #[actix_web::test]
    async fn the_start_up_warns_only_while_a_file_is_missing() {
        let complete = assets_dir(&ASSET_FILES);
        let partial = assets_dir(&ASSET_FILES[1..]);
        assert!(!warn_if_assets_missing(Some(&complete)));
        assert!(warn_if_assets_missing(Some(&partial)));
        assert!(warn_if_assets_missing(None));
        std::fs::remove_dir_all(complete).unwrap();
        std::fs::remove_dir_all(partial).unwrap();
    }
}
