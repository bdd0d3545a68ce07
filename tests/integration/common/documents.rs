//! The GraphQL documents of the tests: named operations in `tests/integration/graphql/*.graphql`
//! (one file per area), read once and handed out by name, so that every document a test sends
//! is validated against `schema.graphql` (tests/integration/documents.rs) instead of failing
//! only when its test runs.

use std::{collections::BTreeMap, path::PathBuf, sync::LazyLock};

use apollo_compiler::{Schema, ast, validation::Valid};

/// The folder of the `.graphql` files.
fn documents_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/integration/graphql")
}

/// Every `.graphql` file of [`documents_dir`] as (file name, text), sorted by name.
pub fn document_files() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir(documents_dir())
        .expect("tests/integration/graphql exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "graphql"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Operation name → (its file, its text).
static OPERATIONS: LazyLock<BTreeMap<String, (String, String)>> = LazyLock::new(|| {
    let mut out = BTreeMap::new();
    for (file, text) in document_files() {
        let document = ast::Document::parse(text, &file)
            .unwrap_or_else(|e| panic!("{file} does not parse:\n{}", e.errors));
        for definition in &document.definitions {
            let ast::Definition::OperationDefinition(op) = definition else {
                panic!("{file}: only operations belong here (no fragments, no schema)");
            };
            let name = op
                .name
                .as_ref()
                .unwrap_or_else(|| panic!("{file}: an operation without a name"))
                .to_string();
            if let Some((other, _)) = out.insert(name.clone(), (file.clone(), op.to_string())) {
                panic!("operation {name} is in both {other} and {file}");
            }
        }
    }
    out
});

/// Every operation as (name, file, text).
pub fn all_operations() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    OPERATIONS
        .iter()
        .map(|(name, (file, text))| (name.as_str(), file.as_str(), text.as_str()))
}

/// The text of the operation called `name`; panics when there is none.
pub fn operation(name: &str) -> &'static str {
    OPERATIONS
        .get(name)
        .map(|(_, text)| text.as_str())
        .unwrap_or_else(|| panic!("no operation {name} in tests/integration/graphql/*.graphql"))
}

/// The committed `schema.graphql`, parsed and validated.
pub fn committed_schema() -> Valid<Schema> {
    let sdl =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    Schema::parse_and_validate(sdl, "schema.graphql").expect("schema.graphql is a valid schema")
}

/// The names of the fields of `Mutation` in [`committed_schema`], sorted.
pub fn mutation_fields() -> Vec<String> {
    let mut out: Vec<String> = committed_schema()
        .get_object("Mutation")
        .expect("a Mutation type")
        .fields
        .keys()
        .map(|k| k.to_string())
        .collect();
    out.sort();
    out
}

/// The first root field of an operation's text (`createUser` of `mutation { createUser … }`).
pub fn root_field(query: &str) -> String {
    let document = ast::Document::parse(query, "operation.graphql").expect("the operation parses");
    document
        .definitions
        .iter()
        .find_map(|d| match d {
            ast::Definition::OperationDefinition(op) => {
                op.selection_set.iter().find_map(|s| match s {
                    ast::Selection::Field(f) => Some(f.name.to_string()),
                    _ => None,
                })
            }
            _ => None,
        })
        .expect("an operation with a field")
}
