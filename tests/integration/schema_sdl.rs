//! `schema.graphql` at the repository root is the SDL of the code's schema, committed so that
//! clients can type their operations against it.

#[test]
fn the_committed_schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let generated = tenant_hub::graphql::sdl();
    assert!(
        committed == generated,
        "schema.graphql is stale; regenerate it with\n    cargo run -- export-schema --out schema.graphql\nand commit it"
    );
}
