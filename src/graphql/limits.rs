//! Limits checked before execution, beyond what async-graphql's own depth, complexity and
//! directive limits cover: the number of lexical tokens, counted on the text before anything is
//! parsed (a document of 10,000 `__typename` fields is cheap to send and costly to parse and
//! run); then, on the parsed document, the number of aliases (each alias re-runs a field, so
//! aliases multiply the cost of a document of modest depth) and the page size asked with `first`
//! (a literal or a variable), so an oversized page is refused before anything runs; and text
//! inputs holding a NUL character (PostgreSQL cannot store one), wherever they are. Also the
//! operation a request selects (its type, and the name used in logs and metrics).

use async_graphql::{
    Name, Positioned, Value,
    parser::types::{
        Directive, DocumentOperations, ExecutableDocument, OperationDefinition, OperationType,
        Selection, SelectionSet,
    },
};

use crate::error::AppError;

/// A lexical token of a GraphQL document (GraphQL spec, 2.1.6): a punctuator, a name, a number
/// or a string. Ignored tokens (white space, line terminators, commas, comments, the BOM) are
/// skipped. Malformed text still yields tokens (one per unexpected character): the parser
/// reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token<'a> {
    Punctuator(&'a str),
    Name(&'a str),
    /// A number, a string or block string, or an unexpected character.
    Other,
}

/// The tokens of `text`, lazily: counting the first N costs O(their length) only.
pub fn tokens(text: &str) -> impl Iterator<Item = Token<'_>> {
    let bytes = text.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        loop {
            let b = *bytes.get(i)?;
            match b {
                b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
                // The BOM (U+FEFF), UTF-8 encoded.
                0xEF if bytes[i..].starts_with(&[0xEF, 0xBB, 0xBF]) => i += 3,
                b'#' => {
                    while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                        i += 1;
                    }
                }
                _ => break,
            }
        }
        let start = i;
        let b = bytes[i];
        let token = match b {
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                while i < bytes.len() && !bytes[i..].starts_with(b"\"\"\"") {
                    i += if bytes[i..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                i = (i + 3).min(bytes.len());
                Token::Other
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                Token::Other
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                i += 3;
                Token::Punctuator(&text[start..i])
            }
            b'!' | b'$' | b'&' | b'(' | b')' | b':' | b'=' | b'@' | b'[' | b']' | b'{' | b'|'
            | b'}' => {
                i += 1;
                Token::Punctuator(&text[start..i])
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                Token::Name(&text[start..i])
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
                Token::Other
            }
            _ => {
                // One unexpected character (whole, so slicing stays on char boundaries).
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                Token::Other
            }
        };
        Some(token)
    })
}

/// Refuses a document of more than `max` lexical tokens, before it is parsed.
pub fn check_tokens(text: &str, max: usize) -> Result<(), AppError> {
    if tokens(text).take(max.saturating_add(1)).count() > max {
        return Err(AppError::bad_input(
            "query",
            format!("the document has more than {max} tokens; send a smaller document"),
        )
        .with_reason(crate::error::Reason::TooManyTokens));
    }
    Ok(())
}

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

/// The operation a request selects: the one it names, or the document's only one. None when
/// the name matches none, or when a document of several operations names none (async-graphql
/// reports both).
pub fn selected_operation<'d>(
    doc: &'d ExecutableDocument,
    named: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&doc.operations, named) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// Whether the request would run a mutation or subscription (refused over GET).
pub fn is_mutation(doc: &ExecutableDocument, named: Option<&str>) -> bool {
    selected_operation(doc, named).is_some_and(|op| op.ty != OperationType::Query)
}

/// The name of the operation a request runs, for metrics and logs: the name the request or
/// the document gives it, else the names of its root fields (`createWorkspace`, or
/// `me+tenant`: never an alias or a variable), else `anonymous`.
pub fn operation_name(doc: &ExecutableDocument, named: Option<&str>) -> String {
    if let Some(n) = named {
        return n.to_owned();
    }
    // The parser keys named operations by their name; an anonymous one is the only one.
    let op = match &doc.operations {
        DocumentOperations::Multiple(ops) if ops.len() == 1 => {
            return ops
                .keys()
                .next()
                .map_or("anonymous", |n| n.as_str())
                .to_owned();
        }
        DocumentOperations::Multiple(_) => return "anonymous".to_owned(),
        DocumentOperations::Single(op) => &op.node,
    };
    let mut fields: Vec<&str> = Vec::new();
    root_fields(doc, &op.selection_set.node, &mut fields, 0);
    if fields.is_empty() {
        "anonymous".to_owned()
    } else {
        fields.join("+")
    }
}

/// The distinct root field names of `set`, fragments included (not aliases).
fn root_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    out: &mut Vec<&'d str>,
    fragment_depth: usize,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                if !out.contains(&name) {
                    out.push(name);
                }
            }
            Selection::InlineFragment(i) => {
                root_fields(doc, &i.node.selection_set.node, out, fragment_depth)
            }
            // Bounded: a fragment cycle is a validation error, reported at execution.
            Selection::FragmentSpread(s) if fragment_depth < 8 => {
                if let Some(f) = doc.fragments.get(&s.node.fragment_name.node) {
                    root_fields(doc, &f.node.selection_set.node, out, fragment_depth + 1);
                }
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Refuses a document with more aliases or a larger page than `limits` allow.
pub fn check_document(
    doc: &ExecutableDocument,
    request: &async_graphql::Request,
    limits: DocumentLimits,
) -> Result<(), AppError> {
    let n = alias_count(doc);
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
                    // The page furthest out of bounds, below or above.
                    let out = |n: i64| if n < 0 { i64::MAX } else { n };
                    largest = Some(largest.map_or(n, |l| if out(n) > out(l) { n } else { l }));
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
        Some(n) if !(0..=limits.max_page_size).contains(&n) => {
            let mut e = AppError::bad_input(
                "first",
                format!("first must be between 0 and {}", limits.max_page_size),
            );
            e.reason = Some(crate::error::Reason::PageSize);
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Refuses a request whose text inputs hold a NUL character (U+0000, which PostgreSQL cannot
/// store in text), in an inline literal or a variable, at any depth, before any resolver runs.
/// `extensions.field` names the argument's path, e.g. `createTenant.input.name`.
pub fn check_text_inputs(
    doc: &ExecutableDocument,
    request: &async_graphql::Request,
) -> Result<(), AppError> {
    let Some(op) = selected_operation(doc, request.operation_name.as_deref()) else {
        return Ok(());
    };
    let variable = |name: &Name| -> Option<Value> {
        request.variables.get(name).cloned().or_else(|| {
            op.variable_definitions
                .iter()
                .find(|d| d.node.name.node == *name)
                .and_then(|d| d.node.default_value.as_ref())
                .map(|v| v.node.clone())
        })
    };
    let mut walk = InputWalk {
        doc,
        variable: &variable,
        path: Vec::new(),
    };
    let found = walk.directives(&op.directives) || walk.selection_set(&op.selection_set.node, 0);
    if found {
        return Err(AppError::bad_input(
            &walk.path.join("."),
            "text must not contain the NUL character (U+0000)",
        )
        .with_reason(crate::error::Reason::NulCharacter));
    }
    // A variable used nowhere is refused by validation; one used in a place not walked above
    // still must not reach a resolver.
    for (name, value) in request.variables.iter() {
        let mut path = vec![format!("${name}")];
        if const_has_nul(value, &mut path) {
            return Err(AppError::bad_input(
                &path.join("."),
                "text must not contain the NUL character (U+0000)",
            )
            .with_reason(crate::error::Reason::NulCharacter));
        }
    }
    Ok(())
}

/// The walk of [`check_text_inputs`]; `path` holds the path to the offending value once found.
struct InputWalk<'a, F: Fn(&Name) -> Option<Value>> {
    doc: &'a ExecutableDocument,
    variable: &'a F,
    path: Vec<String>,
}

impl<F: Fn(&Name) -> Option<Value>> InputWalk<'_, F> {
    fn selection_set(&mut self, set: &SelectionSet, fragment_depth: usize) -> bool {
        for item in &set.items {
            let found = match &item.node {
                Selection::Field(f) => {
                    self.path.push(f.node.name.node.to_string());
                    let found = f.node.arguments.iter().any(|(name, value)| {
                        self.path.push(name.node.to_string());
                        let found = self.argument(
                            value
                                .node
                                .clone()
                                .into_const_with(|n| (self.variable)(&n).ok_or(())),
                        );
                        if !found {
                            self.path.pop();
                        }
                        found
                    }) || self.directives(&f.node.directives)
                        || self.selection_set(&f.node.selection_set.node, fragment_depth);
                    if !found {
                        self.path.pop();
                    }
                    found
                }
                Selection::InlineFragment(i) => {
                    self.directives(&i.node.directives)
                        || self.selection_set(&i.node.selection_set.node, fragment_depth)
                }
                // Bounded: a fragment cycle is a validation error.
                Selection::FragmentSpread(spread) if fragment_depth < 16 => {
                    self.directives(&spread.node.directives)
                        || self
                            .doc
                            .fragments
                            .get(&spread.node.fragment_name.node)
                            .is_some_and(|f| {
                                self.selection_set(&f.node.selection_set.node, fragment_depth + 1)
                            })
                }
                Selection::FragmentSpread(_) => false,
            };
            if found {
                return true;
            }
        }
        false
    }

    /// An argument's value with its variables filled in (`Err`: a variable is missing, which
    /// validation reports).
    fn argument(&mut self, value: Result<Value, ()>) -> bool {
        value.is_ok_and(|v| const_has_nul(&v, &mut self.path))
    }

    fn directives(&mut self, directives: &[Positioned<Directive>]) -> bool {
        directives.iter().any(|d| {
            self.path.push(format!("@{}", d.node.name.node));
            let found = d.node.arguments.iter().any(|(name, value)| {
                self.path.push(name.node.to_string());
                let found = self.argument(
                    value
                        .node
                        .clone()
                        .into_const_with(|n| (self.variable)(&n).ok_or(())),
                );
                if !found {
                    self.path.pop();
                }
                found
            });
            if !found {
                self.path.pop();
            }
            found
        })
    }
}

/// Whether a value holds a NUL character in a string (or an object key); extends `path` to it.
fn const_has_nul(value: &Value, path: &mut Vec<String>) -> bool {
    let inner = |segment: String, item: &Value, path: &mut Vec<String>| {
        path.push(segment);
        let found = const_has_nul(item, path);
        if !found {
            path.pop();
        }
        found
    };
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Enum(name) => name.contains('\0'),
        Value::List(items) => items
            .iter()
            .enumerate()
            .any(|(i, item)| inner(i.to_string(), item, path)),
        Value::Object(fields) => fields.iter().any(|(key, item)| {
            if key.contains('\0') {
                path.push(key.replace('\0', "\\u0000"));
                return true;
            }
            inner(key.to_string(), item, path)
        }),
        _ => false,
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

    fn name_of(query: &str, named: Option<&str>) -> String {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        operation_name(&doc, named)
    }

    #[test]
    fn operation_names_are_the_operations_else_its_root_fields() {
        assert_eq!(name_of("query Who { me { id } }", None), "Who");
        assert_eq!(name_of("# c\nmutation Do($x: ID) { a }", None), "Do");
        assert_eq!(name_of("query Who { me { id } }", Some("Other")), "Other");
        // Neither a variable nor an alias is a name.
        assert_eq!(
            name_of(
                "mutation($i: CreateTenantInput!) { createTenant(input: $i) { tenant { id } } }",
                None
            ),
            "createTenant"
        );
        assert_eq!(
            name_of("mutation { a: createWorkspace(name: \"x\") { id } }", None),
            "createWorkspace"
        );
        assert_eq!(
            name_of("{ me { id } t: tenant { id } me2: me { id } }", None),
            "me+tenant"
        );
        assert_eq!(name_of("query @live { me { id } }", None), "me");
        assert_eq!(
            name_of(
                "fragment F on Query { me { id } }\n{ ...F ... on Query { tenant { id } } }",
                None
            ),
            "me+tenant"
        );
        assert_eq!(
            name_of(
                "fragment F on Query { me { id } } query Named { ...F }",
                None
            ),
            "Named"
        );
        // Several operations and none chosen: async-graphql refuses the request.
        assert_eq!(
            name_of("query A { me { id } } query B { me { id } }", None),
            "anonymous"
        );
        assert_eq!(
            name_of("query A { me { id } } query B { me { id } }", Some("B")),
            "B"
        );
    }

    #[test]
    fn tokens_are_counted_without_ignored_ones() {
        let count = |q: &str| tokens(q).count();
        assert_eq!(count("{ __typename }"), 3);
        assert_eq!(count("{ a, b,,, c } # x y z\n"), 5);
        assert_eq!(
            count(
                "query Q($n: Int = -1.5e3) { f(s: \"a b \\\" c\", t: \"\"\"x \\\"\"\" y\"\"\") { ...F } }"
            ),
            25
        );
        assert_eq!(count("\u{feff}{ é }"), 3);
        let many = format!("{{ {} }}", "__typename ".repeat(10_000));
        assert!(check_tokens(&many, 3000).is_err());
        assert_eq!(
            check_tokens(&many, 3000).unwrap_err().reason,
            Some(crate::error::Reason::TooManyTokens)
        );
        assert!(check_tokens(&many, 10_002).is_ok());
        assert!(check_tokens("{ __typename }", 3).is_ok());
        assert!(check_tokens("{ __typename }", 2).is_err());
    }

    #[test]
    fn graphiqls_introspection_query_is_far_below_the_default_token_limit() {
        let n = tokens(INTROSPECTION_QUERY).count();
        assert!(n > 100 && n < 1000, "{n}");
    }

    const INTROSPECTION_QUERY: &str = "query IntrospectionQuery { __schema { queryType { name } mutationType { name } subscriptionType { name } types { ...FullType } directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason } inputFields { ...InputValue } interfaces { ...TypeRef } enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason } possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

    #[test]
    fn nul_characters_are_found_in_literals_variables_and_defaults_with_their_path() {
        let check = |q: &str, vars: serde_json::Value| {
            let request =
                async_graphql::Request::new(q).variables(async_graphql::Variables::from_json(vars));
            let doc = async_graphql::parser::parse_query(q).unwrap();
            check_text_inputs(&doc, &request).map_err(|e| e.field.unwrap_or_default())
        };
        let none = serde_json::json!({});
        assert_eq!(
            check("{ f(a: \"ok\") { g(b: [\"x\", \"y\"]) } }", none.clone()),
            Ok(())
        );
        assert_eq!(
            check(
                "mutation { f(input: { name: \"a\\u0000b\" }) { id } }",
                none.clone()
            ),
            Err("f.input.name".into())
        );
        assert_eq!(
            check("{ f { g(list: [\"ok\", \"\\u0000\"]) } }", none.clone()),
            Err("f.g.list.1".into())
        );
        assert_eq!(
            check(
                "mutation($i: I!) { f(input: $i) { id } }",
                serde_json::json!({ "i": { "outer": { "tags": ["a", "b\u{0}"] } } })
            ),
            Err("f.input.outer.tags.1".into())
        );
        assert_eq!(
            check("query($s: String = \"\\u0000\") { f(s: $s) }", none.clone()),
            Err("f.s".into())
        );
        assert_eq!(
            check(
                "{ ...F } fragment F on Query { f(s: \"\\u0000\") }",
                none.clone()
            ),
            Err("f.s".into())
        );
        assert_eq!(
            check(
                "query($s: String) { f }",
                serde_json::json!({ "s": "\u{0}" })
            ),
            Err("$s".into())
        );
    }

    #[test]
    fn the_selected_operation_decides_whether_it_is_a_mutation() {
        let doc = |q| async_graphql::parser::parse_query(q).unwrap();
        assert!(is_mutation(&doc("mutation { logout }"), None));
        assert!(!is_mutation(&doc("{ me { id } }"), None));
        let two = doc("query A { me { id } } mutation B { logout }");
        assert!(is_mutation(&two, Some("B")));
        assert!(!is_mutation(&two, Some("A")));
        assert!(!is_mutation(&two, None));
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
        let doc = async_graphql::parser::parse_query(q).unwrap();
        assert!(check_document(&doc, &request, limits(3)).is_err());
        assert!(check_document(&doc, &request, limits(4)).is_ok());
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
            let doc = async_graphql::parser::parse_query(q).unwrap();
            check_document(&doc, &request, limits).map_err(|e| e.field)
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
        assert!(check(q, none.clone()).is_err());
        // Below the bounds too, with the same message.
        let low = |q: &str| {
            let request = async_graphql::Request::new(q);
            let doc = async_graphql::parser::parse_query(q).unwrap();
            check_document(&doc, &request, limits).unwrap_err().message
        };
        assert_eq!(
            low("{ users(first: -1) { totalCount } }"),
            "first must be between 0 and 50"
        );
        assert_eq!(
            low("{ users(first: 51) { totalCount } }"),
            "first must be between 0 and 50"
        );
    }
}
