//! Runs the product-app example (examples/product_app.rs) against a real hub: it verifies a
//! token through the JWKS endpoint alone and reads the TenantContext.

use crate::common;

#[path = "../../examples/product_app.rs"]
#[allow(dead_code)]
mod product_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_product_app_verifies_hub_tokens_and_reads_the_tenant_context() {
    let app = common::spawn_app().await;
    let t = app.signup("acme").await;
    let claims = product_app::verify(&app.address, &t.token, &app.address, "tenant-hub-products")
        .await
        .unwrap();
    assert_eq!(claims.tid, t.uuid.to_string());
    assert_eq!(claims.sub, t.owner_uuid.to_string());
    let ctx = product_app::tenant_context(&app.address, &t.token, "workspaces")
        .await
        .unwrap();
    assert_eq!(
        ctx["products"],
        serde_json::json!([{ "productId": "workspaces", "access": "FULL" }])
    );

    // The example refuses what the hub would refuse.
    assert!(
        product_app::verify(&app.address, &t.token, &app.address, "someone-else")
            .await
            .is_err()
    );
    let mut tampered = t.token.clone();
    tampered.pop();
    tampered.push(if t.token.ends_with('A') { 'B' } else { 'A' });
    assert!(
        product_app::verify(&app.address, &tampered, &app.address, "tenant-hub-products")
            .await
            .is_err()
    );
}
