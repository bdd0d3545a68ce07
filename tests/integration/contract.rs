//! Every operation of `../shared/contract/operations.graphql` (what clients outside this
//! repository rely on) validates against the committed `schema.graphql`, checked with a real
//! GraphQL validator (apollo-compiler).

use apollo_compiler::{ExecutableDocument, Schema, ast};

/// Operations whose fields belong to issues still open. Must end up empty; an operation listed
/// here that validates already fails the test, so the list cannot go stale.
const PENDING: &[&str] = &[];

fn contract_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/contract/operations.graphql")
}

#[test]
fn every_contract_operation_validates_against_schema_graphql() {
    let sdl =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    let schema = Schema::parse_and_validate(sdl, "schema.graphql")
        .expect("schema.graphql is a valid schema");
    let path = contract_path();
    let source = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the contract is expected at {}: {e}", path.display()));
    let document = ast::Document::parse(source, "operations.graphql").expect("the contract parses");

    let mut failures = Vec::new();
    let mut validated = Vec::new();
    for definition in &document.definitions {
        let ast::Definition::OperationDefinition(op) = definition else {
            continue;
        };
        let name = op.name.as_ref().map(|n| n.to_string()).unwrap_or_default();
        let result = ExecutableDocument::parse_and_validate(
            &schema,
            op.to_string(),
            format!("{name}.graphql"),
        );
        match (result, PENDING.contains(&name.as_str())) {
            (Ok(_), false) => validated.push(name),
            (Ok(_), true) => failures.push(format!("{name} validates now: remove it from PENDING")),
            (Err(errors), false) => failures.push(format!("{name}:\n{}", errors.errors)),
            (Err(_), true) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "contract operations failing:\n{}",
        failures.join("\n")
    );
    for required in [
        "CreateTenant",
        "Login",
        "RefreshSession",
        "Logout",
        "AdminLogin",
        "TenantContext",
        "Me",
        "Tenant",
        "TenantConfig",
    ] {
        assert!(
            validated.iter().any(|n| n == required),
            "{required} was not validated"
        );
    }
}
