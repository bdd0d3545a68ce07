//! The GraphQL documents of the tests (tests/integration/graphql/*.graphql, handed out by
//! `common::operation`) validate against the committed `schema.graphql` with a real GraphQL
//! validator (apollo-compiler), and each one is used by a test, so none goes stale.

use std::path::Path;

use apollo_compiler::ExecutableDocument;

use crate::common::{all_operations, committed_schema, document_files};

/// The text of every `.rs` file under `dir`.
fn rust_sources(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(std::fs::read_to_string(&path).unwrap());
        }
    }
    out
}

#[test]
fn every_test_document_validates_against_schema_graphql_and_is_used() {
    let schema = committed_schema();
    let sources = rust_sources(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration"));

    let mut failures = Vec::new();
    let mut count = 0;
    for (name, file, text) in all_operations() {
        count += 1;
        if let Err(errors) =
            ExecutableDocument::parse_and_validate(&schema, text, format!("{file}#{name}"))
        {
            failures.push(format!("{file}: {name}:\n{}", errors.errors));
        }
        let quoted = format!("\"{name}\"");
        if !sources.iter().any(|s| s.contains(&quoted)) {
            failures.push(format!(
                "{file}: {name} is used by no test (no {quoted} in tests/integration)"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "test documents failing:\n{}",
        failures.join("\n")
    );
    assert!(
        document_files().len() >= 5 && count >= 50,
        "the documents were not found ({count} operations)"
    );
}
