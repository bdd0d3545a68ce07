//! What a product app does with a hub token, using nothing of the hub's own code: verify the
//! token against the hub's JWKS, then ask the hub for the user's TenantContext.
//!
//! ```sh
//! HUB_URL=http://127.0.0.1:8080 HUB_TOKEN=<access token> cargo run --example product_app -- crm
//! ```

use jsonwebtoken::{DecodingKey, Validation, decode, decode_header, jwk::JwkSet};
use serde::Deserialize;
use serde_json::{Value, json};

/// The claims a product relies on.
#[derive(Debug, Deserialize)]
pub struct HubClaims {
    pub sub: String,
    pub tid: String,
    pub sid: String,
    pub exp: i64,
}

/// Verifies `token` against `{hub}/.well-known/jwks.json`: the key named by `kid`, its algorithm
/// only, `typ` at+jwt, and iss, aud, exp and nbf.
pub async fn verify(
    hub: &str,
    token: &str,
    issuer: &str,
    audience: &str,
) -> anyhow::Result<HubClaims> {
    let jwks: JwkSet = reqwest::get(format!("{hub}/.well-known/jwks.json"))
        .await?
        .error_for_status()?
        .json()
        .await?;
    let header = decode_header(token)?;
    anyhow::ensure!(
        header.typ.as_deref() == Some("at+jwt"),
        "not an access token"
    );
    let kid = header
        .kid
        .ok_or_else(|| anyhow::anyhow!("token without kid"))?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| anyhow::anyhow!("unknown kid {kid}"))?;
    let alg = jwk
        .common
        .key_algorithm
        .and_then(|a| a.to_string().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("key without a usable alg"))?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[issuer]);
    validation.set_audience(&[audience]);
    validation.validate_nbf = true;
    validation.leeway = 30;
    Ok(decode::<HubClaims>(token, &DecodingKey::from_jwk(jwk)?, &validation)?.claims)
}

/// Asks the hub for the caller's TenantContext, narrowed to `product`.
pub async fn tenant_context(hub: &str, token: &str, product: &str) -> anyhow::Result<Value> {
    let body: Value = reqwest::Client::new()
        .post(format!("{hub}/graphql"))
        .bearer_auth(token)
        .json(&json!({
            "query": "query TenantContext($productId: ID) { tenantContext(productId: $productId) { tenantId userId permissions products { productId access } } }",
            "variables": { "productId": product },
        }))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(body.get("errors").is_none(), "the hub refused: {body}");
    Ok(body["data"]["tenantContext"].clone())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let hub = std::env::var("HUB_URL").unwrap_or_else(|_| "http://127.0.0.1:8080".into());
    let token = std::env::var("HUB_TOKEN")?;
    let product = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "workspaces".into());
    let claims = verify(&hub, &token, &hub, "tenant-hub-products").await?;
    println!(
        "verified: user {} of tenant {} (session {}), expires at {}",
        claims.sub, claims.tid, claims.sid, claims.exp
    );
    let ctx = tenant_context(&hub, &token, &product).await?;
    println!("{}", serde_json::to_string_pretty(&ctx)?);
    Ok(())
}
