//! Limits checked on the parsed document before execution, beyond what async-graphql's own
//! depth, complexity and directive limits cover: the number of aliases (each alias re-runs a
//! field, so aliases multiply the cost of a document of modest depth) and the page size asked
//! with `first` (a literal or a variable), so an oversized page is refused before anything runs.

use async_graphql::{
    Name, Value,
    parser::types::{ExecutableDocument, Selection, SelectionSet},
};

use crate::error::AppError;

/// What [`check_document`] enforces (from the settings).
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    pub max_aliases: usize,
    pub max_page_size: i64,
}

fn aliases_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(f) => {
                usize::from(f.node.alias.is_some()) + aliases_in(&f.node.selection_set.node)
            }
            Selection::InlineFragment(i) => aliases_in(&i.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Counts the aliases of every operation and fragment of the document.
pub fn alias_count(doc: &ExecutableDocument) -> usize {
    let ops: usize = doc
        .operations
        .iter()
        .map(|(_, op)| aliases_in(&op.node.selection_set.node))
        .sum();
    let fragments: usize = doc
        .fragments
        .values()
        .map(|f| aliases_in(&f.node.selection_set.node))
        .sum();
    ops + fragments
}

/// The name of the operation a request runs: the one it names, or the document's only
/// (first) named operation; for metrics and logs.
pub fn operation_name(query: &str, named: Option<&str>) -> String {
    if let Some(n) = named {
        return n.to_owned();
    }
    // The parser keeps no name for a document's single operation: read it from the text.
    let text: String = query
        .lines()
        .map(|l| l.split('#').next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ");
    let mut words = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty());
    match (
        text.trim_start().starts_with('{'),
        words.next(),
        words.next(),
    ) {
        (false, Some("query" | "mutation" | "subscription"), Some(name)) => name.to_owned(),
        _ => "anonymous".to_owned(),
    }
}

/// Refuses a document with more aliases or a larger page than `limits` allow. A document that
/// does not parse passes here: async-graphql reports the syntax error.
pub fn check_document(
    request: &async_graphql::Request,
    limits: DocumentLimits,
) -> Result<(), AppError> {
    let Ok(doc) = async_graphql::parser::parse_query(&request.query) else {
        return Ok(());
    };
    let n = alias_count(&doc);
    if n > limits.max_aliases {
        return Err(AppError::bad_input(
            "query",
            format!(
                "the document has {n} aliases; at most {} are allowed",
                limits.max_aliases
            ),
        ));
    }
    let variable = |name: &Name| -> Option<Value> {
        if let Some(v) = request.variables.get(name) {
            return Some(v.clone());
        }
        doc.operations.iter().find_map(|(_, op)| {
            op.node
                .variable_definitions
                .iter()
                .find(|d| d.node.name.node == *name)
                .and_then(|d| d.node.default_value.as_ref())
                .map(|v| v.node.clone())
        })
    };
    let mut largest: Option<i64> = None;
    let mut visit = |set: &SelectionSet| {
        page_sizes_in(set, &mut |value: &async_graphql::parser::types::Field| {
            for (name, value) in &value.arguments {
                if name.node != "first" {
                    continue;
                }
                let asked = value
                    .node
                    .clone()
                    .into_const_with(|name| variable(&name).ok_or(()));
                if let Ok(Value::Number(n)) = asked
                    && let Some(n) = n.as_i64()
                {
                    largest = Some(largest.map_or(n, |l| l.max(n)));
                }
            }
        });
    };
    for (_, op) in doc.operations.iter() {
        visit(&op.node.selection_set.node);
    }
    for fragment in doc.fragments.values() {
        visit(&fragment.node.selection_set.node);
    }
    match largest {
        Some(n) if n > limits.max_page_size => {
            let mut e = AppError::bad_input(
                "first",
                format!("first must be between 0 and {}", limits.max_page_size),
            );
            e.reason = Some("page_size");
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Calls `f` for every field of `set`, nested ones included.
fn page_sizes_in(set: &SelectionSet, f: &mut impl FnMut(&async_graphql::parser::types::Field)) {
    for item in &set.items {
        match &item.node {
            Selection::Field(field) => {
                f(&field.node);
                page_sizes_in(&field.node.selection_set.node, f);
            }
            Selection::InlineFragment(i) => page_sizes_in(&i.node.selection_set.node, f),
            Selection::FragmentSpread(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_come_from_the_request_or_the_text() {
        assert_eq!(operation_name("query Who { me { id } }", None), "Who");
        assert_eq!(operation_name("# c\nmutation Do($x: ID) { a }", None), "Do");
        assert_eq!(operation_name("{ me { id } }", None), "anonymous");
        assert_eq!(
            operation_name("query Who { me { id } }", Some("Other")),
            "Other"
        );
    }

    #[test]
    fn aliases_are_counted_in_operations_and_fragments() {
        let q = "query { a: me { id } b: me { x: id } ...F } fragment F on Query { c: me { id } }";
        assert_eq!(
            alias_count(&async_graphql::parser::parse_query(q).unwrap()),
            4
        );
        let limits = |max_aliases| DocumentLimits {
            max_aliases,
            max_page_size: 100,
        };
        let request = async_graphql::Request::new(q);
        assert!(check_document(&request, limits(3)).is_err());
        assert!(check_document(&request, limits(4)).is_ok());
    }

    #[test]
    fn page_sizes_are_checked_in_literals_variables_defaults_and_fragments() {
        let limits = DocumentLimits {
            max_aliases: 30,
            max_page_size: 50,
        };
        let check = |q: &str, vars: serde_json::Value| {
            let request =
                async_graphql::Request::new(q).variables(async_graphql::Variables::from_json(vars));
            check_document(&request, limits).map_err(|e| e.field)
        };
        let none = serde_json::json!({});
        assert!(check("{ users(first: 50) { totalCount } }", none.clone()).is_ok());
        assert_eq!(
            check("{ users(first: 51) { totalCount } }", none.clone()),
            Err(Some("first".into()))
        );
        let q = "query($n: Int) { workspaces { edges { node { members(first: $n) { totalCount } } } } }";
        assert!(check(q, serde_json::json!({ "n": 10 })).is_ok());
        assert!(check(q, serde_json::json!({ "n": 500 })).is_err());
        let q = "query($n: Int = 80) { users(first: $n) { totalCount } }";
        assert!(check(q, none.clone()).is_err());
        assert!(check(q, serde_json::json!({ "n": 5 })).is_ok());
        let q = "{ ...F } fragment F on Query { users(first: 99) { totalCount } }";
        assert!(check(q, none).is_err());
    }
}
