//! GraphQL's null propagation (specification, "Handling Field Errors"), applied to an executed
//! response that has field errors.
//!
//! async-graphql 7 leaves the key of a failed field out of its parent object (nullable or not)
//! and goes on, so `createTenant { owner { roles { name } } }` with a failing `roles: [Role!]!`
//! answered `owner` without `roles`. The specification says: a failed field is `null`; when its
//! type is non-null, the `null` moves to the parent field, up to the nearest nullable one, or to
//! `data` itself. This module does that after execution, from each error's path, the document
//! and the schema's field types, so a response without errors costs nothing (a resolver
//! extension would be called for every field of every response).
//!
//! The same field types give async-graphql's coercion errors of arguments (`Failed to parse
//! "JSON": …`) the input path they are about, as `extensions.field`.

use std::collections::HashMap;

use async_graphql::{
    Name, PathSegment, Value,
    parser::types::{
        BaseType, DocumentOperations, ExecutableDocument, Field, OperationType, Selection,
        SelectionSet, Type, TypeKind, TypeSystemDefinition,
    },
};

/// The declared type of every field of every object and interface, read from the SDL once.
pub struct FieldTypes {
    fields: HashMap<String, HashMap<String, Type>>,
    /// The arguments of each root field: (root type, field) → (argument, type).
    arguments: HashMap<(String, String), Vec<(String, Type)>>,
    /// The fields of each input object.
    inputs: HashMap<String, Vec<(String, Type)>>,
    query: String,
    mutation: String,
}

impl FieldTypes {
    /// From the schema's SDL (as `schema.graphql` holds it).
    pub fn from_sdl(sdl: &str) -> anyhow::Result<FieldTypes> {
        let doc = async_graphql::parser::parse_schema(sdl)?;
        let mut types = FieldTypes {
            fields: HashMap::new(),
            arguments: HashMap::new(),
            inputs: HashMap::new(),
            query: "Query".to_owned(),
            mutation: "Mutation".to_owned(),
        };
        for definition in doc.definitions {
            match definition {
                TypeSystemDefinition::Type(t) => {
                    let owner = t.node.name.node.to_string();
                    let fields = match t.node.kind {
                        TypeKind::Object(o) => o.fields,
                        TypeKind::Interface(i) => i.fields,
                        TypeKind::InputObject(i) => {
                            types.inputs.insert(
                                owner,
                                i.fields
                                    .into_iter()
                                    .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                                    .collect(),
                            );
                            continue;
                        }
                        _ => continue,
                    };
                    for f in &fields {
                        types.arguments.insert(
                            (owner.clone(), f.node.name.node.to_string()),
                            f.node
                                .arguments
                                .iter()
                                .map(|a| (a.node.name.node.to_string(), a.node.ty.node.clone()))
                                .collect(),
                        );
                    }
                    types.fields.insert(
                        t.node.name.node.to_string(),
                        fields
                            .into_iter()
                            .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                            .collect(),
                    );
                }
                TypeSystemDefinition::Schema(s) => {
                    if let Some(q) = s.node.query {
                        types.query = q.node.to_string();
                    }
                    if let Some(m) = s.node.mutation {
                        types.mutation = m.node.to_string();
                    }
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
        Ok(types)
    }

    /// The field types of the hub's schema, read once per process: they come from the Rust
    /// types, so every schema built in a process has the same ones (limits and introspection
    /// settings do not change them).
    pub fn of_hub() -> &'static FieldTypes {
        static TYPES: std::sync::OnceLock<FieldTypes> = std::sync::OnceLock::new();
        TYPES.get_or_init(|| {
            FieldTypes::from_sdl(&crate::graphql::sdl()).expect("the hub's own SDL parses")
        })
    }

    /// The input path of an async-graphql coercion error of a root field's argument, from the
    /// types it names: `Failed to parse "JSON": invalid type: sequence, expected a map
    /// (occurred while parsing "BrandingInput") (occurred while parsing
    /// "UpdateTenantSettingsInput")` on `updateTenantSettings` is `input.branding.colors`,
    /// with the cause `invalid type: sequence, expected a map`. None when a step is ambiguous.
    pub fn coercion_error_path(&self, root_field: &str, message: &str) -> Option<(String, String)> {
        let rest = message.strip_prefix("Failed to parse \"")?;
        let (leaf, rest) = rest.split_once("\": ")?;
        let (cause, chain) = match rest.find(" (occurred while parsing \"") {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        // Outermost type last in the message: walk it from the argument inwards.
        let mut names: Vec<&str> = chain
            .split(" (occurred while parsing \"")
            .filter_map(|p| p.strip_suffix("\")"))
            .collect();
        names.reverse();
        names.push(leaf);
        let base = |t: &Type| -> String {
            let mut t = t;
            while let BaseType::List(inner) = &t.base {
                t = inner;
            }
            named_type(t).unwrap_or_default().to_owned()
        };
        let unique = |candidates: Vec<&String>| -> Option<String> {
            match candidates.as_slice() {
                [one] => Some((*one).clone()),
                _ => None,
            }
        };
        let arguments = [&self.mutation, &self.query]
            .into_iter()
            .find_map(|root| self.arguments.get(&(root.clone(), root_field.to_owned())))?;
        let first = names.first()?;
        let mut path = vec![unique(
            arguments
                .iter()
                .filter(|(_, t)| base(t) == *first)
                .map(|(n, _)| n)
                .collect(),
        )?];
        for pair in names.windows(2) {
            let fields = self.inputs.get(pair[0])?;
            path.push(unique(
                fields
                    .iter()
                    .filter(|(_, t)| base(t) == pair[1])
                    .map(|(n, _)| n)
                    .collect(),
            )?);
        }
        Some((path.join("."), cause.to_owned()))
    }

    /// Gives async-graphql's coercion errors of root-field arguments the `field` they are
    /// about and a message that says it.
    pub fn explain_coercion_errors(&self, response: &mut async_graphql::Response) {
        for error in &mut response.errors {
            let [PathSegment::Field(root_field)] = error.path.as_slice() else {
                continue;
            };
            let has_code = error
                .extensions
                .as_ref()
                .is_some_and(|e| e.get("code").is_some());
            if has_code {
                continue;
            }
            if let Some((field, cause)) = self.coercion_error_path(root_field, &error.message) {
                error.message = format!("{field}: {cause}");
                let ext = error.extensions.get_or_insert_with(Default::default);
                ext.set("field", field);
            }
        }
    }

    fn field(&self, owner: &str, name: &str) -> Option<&Type> {
        self.fields.get(owner)?.get(name)
    }
}

/// Applies null propagation to `response` for every error with a path. `query` and `named` are
/// the request's document and operation name.
pub fn propagate(
    types: &FieldTypes,
    query: &str,
    named: Option<&str>,
    response: &mut async_graphql::Response,
) {
    if response.errors.iter().all(|e| e.path.is_empty()) {
        return;
    }
    let Ok(doc) = async_graphql::parser::parse_query(query) else {
        return;
    };
    let op = match (&doc.operations, named) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(n)) => match ops.get(n) {
            Some(op) => &op.node,
            None => return,
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => &op.node,
            None => return,
        },
        _ => return,
    };
    let root = match op.ty {
        OperationType::Query => types.query.as_str(),
        OperationType::Mutation => types.mutation.as_str(),
        OperationType::Subscription => return,
    };
    let paths: Vec<Vec<PathSegment>> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .map(|e| e.path.clone())
        .collect();
    for path in paths {
        let Some(nullable) = nullability_along(types, &doc, root, &op.selection_set.node, &path)
        else {
            continue;
        };
        // The failed position itself, or the nearest nullable ancestor, becomes null; with
        // none, `data` does.
        match nullable.iter().rposition(|n| *n) {
            Some(i) => set_null(&mut response.data, &path[..=i]),
            None => response.data = Value::Null,
        }
        if response.data == Value::Null {
            break;
        }
    }
}

/// For each prefix of `path` (one entry per segment), whether the value there may be null.
/// None when a segment cannot be typed (an introspection field, say): that error is left as it
/// is.
fn nullability_along(
    types: &FieldTypes,
    doc: &ExecutableDocument,
    root: &str,
    root_set: &SelectionSet,
    path: &[PathSegment],
) -> Option<Vec<bool>> {
    let mut nullable = Vec::with_capacity(path.len());
    let mut sets: Vec<&SelectionSet> = vec![root_set];
    let mut parent: String = root.to_owned();
    // The type of the value at the current position (a field's, or a list item's).
    let mut current: Option<&Type> = None;
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                if let Some(t) = current {
                    parent = named_type(t)?.to_owned();
                }
                let mut found: Vec<(&Field, Option<&str>)> = Vec::new();
                for set in &sets {
                    fields_with_key(doc, set, key, None, &mut found, 0);
                }
                let (field, condition) = *found.first()?;
                let name = field.name.node.as_str();
                let ty = condition
                    .and_then(|c| types.field(c, name))
                    .or_else(|| types.field(&parent, name))?;
                nullable.push(ty.nullable);
                current = Some(ty);
                sets = found.iter().map(|(f, _)| &f.selection_set.node).collect();
            }
            PathSegment::Index(_) => {
                let BaseType::List(item) = &current?.base else {
                    return None;
                };
                nullable.push(item.nullable);
                current = Some(item);
            }
        }
    }
    Some(nullable)
}

fn named_type(t: &Type) -> Option<&str> {
    match &t.base {
        BaseType::Named(n) => Some(n.as_str()),
        BaseType::List(_) => None,
    }
}

/// The fields of `set` answering under `key`, through fragments, with the type condition
/// they were selected under.
fn fields_with_key<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    key: &str,
    condition: Option<&'d str>,
    out: &mut Vec<(&'d Field, Option<&'d str>)>,
    depth: usize,
) {
    for item in &set.items {
        match &item.node {
            Selection::Field(f) if f.node.response_key().node.as_str() == key => {
                out.push((&f.node, condition))
            }
            Selection::Field(_) => {}
            Selection::InlineFragment(i) => {
                let condition = i
                    .node
                    .type_condition
                    .as_ref()
                    .map(|c| c.node.on.node.as_str())
                    .or(condition);
                fields_with_key(doc, &i.node.selection_set.node, key, condition, out, depth);
            }
            // Bounded: a fragment cycle is a validation error.
            Selection::FragmentSpread(s) if depth < 16 => {
                if let Some(f) = doc.fragments.get(&s.node.fragment_name.node) {
                    let condition = Some(f.node.type_condition.node.on.node.as_str());
                    fields_with_key(
                        doc,
                        &f.node.selection_set.node,
                        key,
                        condition,
                        out,
                        depth + 1,
                    );
                }
            }
            Selection::FragmentSpread(_) => {}
        }
    }
}

/// Sets the value at `path` to null (adding the key a failed field left out); nothing when an
/// ancestor is null already.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let Some((last, ancestors)) = path.split_last() else {
        return;
    };
    let mut node = data;
    for segment in ancestors {
        let next = match (segment, node) {
            (PathSegment::Field(key), Value::Object(map)) => map.get_mut(key.as_str()),
            (PathSegment::Index(i), Value::List(items)) => items.get_mut(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => return,
        }
    }
    match (last, node) {
        (PathSegment::Field(key), Value::Object(map)) => {
            map.insert(Name::new(key), Value::Null);
        }
        (PathSegment::Index(i), Value::List(items)) => {
            if let Some(item) = items.get_mut(*i) {
                *item = Value::Null;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDL: &str = "
        type Query { me: User  tenant: Tenant! node(id: ID!): Node }
        type Mutation { a: Payload!  b: Payload! }
        interface Node { id: ID! }
        type Payload { user: User! note: String }
        type User implements Node { id: ID! roles: [Role!]! tags: [String] friend: User }
        type Role { name: String! }
        type Tenant { name: String! owner: User! }
    ";

    fn run(query: &str, data: serde_json::Value, errors: &[&[&str]]) -> serde_json::Value {
        let types = FieldTypes::from_sdl(SDL).unwrap();
        let mut response = async_graphql::Response::new(Value::from_json(data).unwrap());
        for path in errors {
            let mut e = async_graphql::ServerError::new("failed", None);
            e.path = path
                .iter()
                .map(|s| match s.parse::<usize>() {
                    Ok(i) => PathSegment::Index(i),
                    Err(_) => PathSegment::Field((*s).to_owned()),
                })
                .collect();
            response.errors.push(e);
        }
        propagate(&types, query, None, &mut response);
        response.data.into_json().unwrap()
    }

    #[test]
    fn coercion_errors_get_the_path_of_their_input() {
        let types = FieldTypes::from_sdl(
            "type Query { me: User }
             type Mutation { update(input: SettingsInput!, other: Int): User }
             type User { id: ID! }
             scalar JSON
             input SettingsInput { name: String branding: BrandingInput }
             input BrandingInput { logo: String colors: JSON }",
        )
        .unwrap();
        let message = "Failed to parse \"JSON\": invalid type: sequence, expected a map (occurred while parsing \"BrandingInput\") (occurred while parsing \"SettingsInput\")";
        assert_eq!(
            types.coercion_error_path("update", message),
            Some((
                "input.branding.colors".to_owned(),
                "invalid type: sequence, expected a map".to_owned()
            ))
        );
        assert_eq!(types.coercion_error_path("update", "something else"), None);
    }

    #[test]
    fn a_failed_non_null_field_nulls_its_nearest_nullable_parent() {
        use serde_json::json;
        // roles: [Role!]! fails: me (nullable) becomes null.
        assert_eq!(
            run(
                "{ me { id roles { name } } }",
                json!({ "me": { "id": "1" } }),
                &[&["me", "roles"]]
            ),
            json!({ "me": null })
        );
        // A nullable field that failed is there, as null.
        assert_eq!(
            run(
                "{ me { id friend { id } } }",
                json!({ "me": { "id": "1" } }),
                &[&["me", "friend"]]
            ),
            json!({ "me": { "id": "1", "friend": null } })
        );
        // No nullable ancestor: data is null.
        assert_eq!(
            run(
                "{ tenant { name owner { id } } }",
                json!({ "tenant": { "name": "x" } }),
                &[&["tenant", "owner"]]
            ),
            json!(null)
        );
        // Mutation fields are non-null: the second failing nulls data.
        assert_eq!(
            run(
                "mutation { a { note } b { note } }",
                json!({ "a": { "note": "n" } }),
                &[&["b"]]
            ),
            json!(null)
        );
        // Through aliases, fragments and list items: a Role! item fails the list, then `me`.
        assert_eq!(
            run(
                "{ m: me { ...F } } fragment F on User { r: roles { name } }",
                json!({ "m": { "r": [{ "name": "a" }, {}] } }),
                &[&["m", "r", "1", "name"]]
            ),
            json!({ "m": null })
        );
        // A nullable list item becomes null on its own.
        assert_eq!(
            run(
                "{ me { tags } }",
                json!({ "me": { "tags": ["a", "b"] } }),
                &[&["me", "tags", "1"]]
            ),
            json!({ "me": { "tags": ["a", null] } })
        );
        // Through an interface and a type condition.
        assert_eq!(
            run(
                "{ node(id: \"1\") { ... on User { roles { name } } } }",
                json!({ "node": {} }),
                &[&["node", "roles"]]
            ),
            json!({ "node": null })
        );
        // An untyped path (introspection) is left alone.
        assert_eq!(
            run(
                "{ me { id } __type(name: \"X\") { name } }",
                json!({ "me": { "id": "1" } }),
                &[&["__type", "name"]]
            ),
            json!({ "me": { "id": "1" } })
        );
    }
}
