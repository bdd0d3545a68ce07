//! Limits checked on the parsed document before execution, beyond what async-graphql's own
//! depth, complexity and directive limits cover: the number of aliases (each alias re-runs a
//! field, so aliases multiply the cost of a document of modest depth).

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

use crate::error::AppError;

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

/// Refuses a document with more than `max` aliases. A document that does not parse passes
/// here: async-graphql reports the syntax error.
pub fn check_aliases(query: &str, max: usize) -> Result<(), AppError> {
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return Ok(());
    };
    let n = alias_count(&doc);
    if n > max {
        return Err(AppError::bad_input(
            "query",
            format!("the document has {n} aliases; at most {max} are allowed"),
        ));
    }
    Ok(())
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
        assert!(check_aliases(q, 3).is_err());
        assert!(check_aliases(q, 4).is_ok());
    }
}
