//! The rules of the layers (see the table in `lib.rs`) that a text search can check: the domain
//! depends on no other part of the hub nor on the API or database crates, and GraphQL resolvers
//! neither write audit records nor open transactions of their own (operations do, through
//! `TenantScope::run` / `PlatformScope::run_system`).

use std::{fs, path::Path};

/// `(file, line)` of every line of the `.rs` files under `src/<dir>` containing one of `needles`,
/// outside `allowed` files and comment lines.
fn offending(dir: &str, needles: &[&str], allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(dir);
    let mut found = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rs"))
        .collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        if allowed.contains(&name) {
            continue;
        }
        let text = fs::read_to_string(&path).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            if let Some(needle) = needles.iter().find(|needle| code.contains(*needle)) {
                found.push(format!("src/{dir}/{name}:{}: {needle}", n + 1));
            }
        }
    }
    found
}

#[test]
fn the_domain_depends_on_no_other_layer() {
    let found = offending(
        "domain",
        &[
            "crate::error",
            "crate::db",
            "crate::graphql",
            "crate::http",
            "crate::app",
            "crate::ops",
            "crate::auth",
            "async_graphql",
            "diesel",
            "actix",
            "deadpool",
        ],
        &[],
    );
    assert!(
        found.is_empty(),
        "domain/ reaches out:\n{}",
        found.join("\n")
    );
}

/// What is left of issue 13 here (file, needle, why): must end up empty; an entry that no
/// longer offends fails the test, so the list cannot go stale.
const NOT_MOVED_YET: &[(&str, &str, &str)] = &[];

#[test]
fn resolvers_write_no_audit_record_and_open_no_transaction() {
    // context.rs holds the guards and scopes (they open the transactions operations run in);
    // loaders.rs the DataLoaders, which read in their tenant's transaction.
    let found = offending(
        "graphql",
        &[
            "audit::record",
            "record_platform(",
            ".tenant_tx(",
            ".system_tx(",
            "SystemReason::",
        ],
        &["context.rs", "loaders.rs", "admin_reads.rs"],
    );
    let known = |f: &String| {
        NOT_MOVED_YET
            .iter()
            .any(|(file, needle, _)| f.starts_with(&format!("{file}:")) && f.ends_with(needle))
    };
    let new: Vec<_> = found.iter().filter(|f| !known(f)).collect();
    assert!(
        new.is_empty(),
        "resolvers doing an operation's work:\n{new:?}"
    );
    for (file, needle, _) in NOT_MOVED_YET {
        assert!(
            found
                .iter()
                .any(|f| f.starts_with(&format!("{file}:")) && f.ends_with(needle)),
            "{file} no longer has {needle}: remove it from NOT_MOVED_YET"
        );
    }
}

/// The file-level import graph of `src/` and its rules: no import cycle, and `AppState` used by
/// the wiring files only.
///
/// Granularity: a node is a file (a module; a `mod.rs` is its directory's module). An edge
/// `a → b` is a path into `b` named in `a`: in a `use crate::…`/`super::…`/`self::…` tree
/// (or a bare child module), or written inline (`crate::x::y(…)`). A path resolves to the
/// deepest module file it names; a name that module only re-exports (`pub use child::Item`) is
/// followed to the file that defines it, so a re-export is not an edge of the re-exporting
/// `mod.rs` itself (it is the module's front door, not a use of it), and `mod` declarations
/// are no edges either. Comment lines are skipped; code in `#[cfg(test)]` counts.
mod import_graph {
    use std::{
        collections::{BTreeMap, BTreeSet, HashMap, VecDeque},
        fs,
        path::{Path, PathBuf},
    };

    pub struct Graph {
        pub edges: BTreeMap<String, BTreeSet<String>>,
    }

    fn src() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
    }

    fn files(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap()
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// `src/a/b.rs` → `[a, b]`; `src/a/mod.rs` → `[a]`; `src/lib.rs` → `[]`.
    fn module_of(rel: &str) -> Vec<String> {
        let rel = rel.trim_end_matches(".rs");
        let mut segs: Vec<String> = rel.split('/').map(str::to_owned).collect();
        if segs
            .last()
            .is_some_and(|s| s == "mod" || s == "lib" || s == "main")
        {
            segs.pop();
        }
        segs
    }

    /// The file of module `segs`, if it exists.
    fn file_of(segs: &[String]) -> Option<String> {
        if segs.is_empty() {
            return Some("lib.rs".into());
        }
        let base = segs.join("/");
        [format!("{base}.rs"), format!("{base}/mod.rs")]
            .into_iter()
            .find(|f| src().join(f).is_file())
    }

    /// Code without comment lines and without the text after a `//` that starts a comment.
    fn code_of(text: &str) -> String {
        text.lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .map(|l| match l.find(" // ") {
                Some(i) if !l[..i].contains('"') => &l[..i],
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Expands a use tree (`a::{b, c::{d as e}, f::*}`) into its paths.
    fn expand(tree: &str) -> Vec<Vec<String>> {
        // `a as b` becomes `a@b` before the whitespace goes.
        let words: Vec<&str> = tree.split_whitespace().collect();
        let tree: String = words
            .iter()
            .map(|w| if *w == "as" { "@" } else { w })
            .collect();
        fn go(prefix: &[String], t: &str, out: &mut Vec<Vec<String>>) {
            // Split the top level at commas.
            let mut depth = 0;
            let mut start = 0;
            let mut parts = Vec::new();
            for (i, c) in t.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(&t[start..i]);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            parts.push(&t[start..]);
            for part in parts.into_iter().filter(|p| !p.is_empty()) {
                if let Some(open) = part.find('{') {
                    let head = part[..open].trim_end_matches("::");
                    let inner = &part[open + 1..part.len() - 1];
                    let mut p = prefix.to_vec();
                    p.extend(
                        head.split("::")
                            .filter(|s| !s.is_empty())
                            .map(str::to_owned),
                    );
                    go(&p, inner, out);
                } else {
                    let path = part.split('@').next().unwrap_or(part);
                    let mut p = prefix.to_vec();
                    p.extend(
                        path.split("::")
                            .filter(|s| !s.is_empty() && *s != "*")
                            .map(str::to_owned),
                    );
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        go(&[], &tree, &mut out);
        out
    }

    /// The use statements of `code`: (is a `pub use`, tree text).
    fn uses(code: &str) -> Vec<(bool, String)> {
        let mut out = Vec::new();
        let mut rest = code;
        while let Some(i) = find_use(rest) {
            let (public, start) = i;
            let tail = &rest[start..];
            let end = tail.find(';').unwrap_or(tail.len());
            out.push((public, tail[..end].to_owned()));
            rest = &tail[end..];
        }
        out
    }

    /// The next `use ` keyword at the start of a statement: (public, index after `use `).
    fn find_use(code: &str) -> Option<(bool, usize)> {
        let mut from = 0;
        while let Some(i) = code[from..].find("use ") {
            let at = from + i;
            let line_start = code[..at].rfind('\n').map_or(0, |n| n + 1);
            let lead = code[line_start..at].trim();
            let starts = lead.is_empty() || lead == "pub" || lead.starts_with("pub(");
            if starts {
                return Some((lead.starts_with("pub"), at + 4));
            }
            from = at + 4;
        }
        None
    }

    /// A path as written in `module` (`crate::`, `super::`, `self::` or a child module) made
    /// absolute; `None` for other crates' paths.
    fn absolute(module: &[String], path: &[String]) -> Option<Vec<String>> {
        let first = path.first()?;
        match first.as_str() {
            "crate" => Some(path[1..].to_vec()),
            "self" => Some(module.iter().chain(&path[1..]).cloned().collect()),
            "super" => {
                let mut m = module.to_vec();
                let mut rest = path;
                while rest.first().is_some_and(|s| s == "super") {
                    m.pop();
                    rest = &rest[1..];
                }
                Some(m.into_iter().chain(rest.iter().cloned()).collect())
            }
            name => {
                let mut child = module.to_vec();
                child.push(name.to_owned());
                file_of(&child).map(|_| module.iter().chain(path).cloned().collect())
            }
        }
    }

    /// The file's code as (module, code) parts: the code before its first inline module
    /// (`mod tests {`) in the file's module, the code from there on in that inline module, so
    /// a test module's `use super::*` names its own file, not the parent's.
    fn inline_modules<'c>(code: &'c str, module: &[String]) -> Vec<(Vec<String>, &'c str)> {
        let mut at = 0;
        for line in code.split_inclusive('\n') {
            let t = line.trim();
            let t = t.strip_prefix("pub ").unwrap_or(t);
            if let Some(name) = t.strip_prefix("mod ").and_then(|r| r.strip_suffix(" {")) {
                let mut inner = module.to_vec();
                inner.push(name.trim().to_owned());
                return vec![(module.to_vec(), &code[..at]), (inner, &code[at..])];
            }
            at += line.len();
        }
        vec![(module.to_vec(), code)]
    }

    pub fn build() -> Graph {
        let mut all = Vec::new();
        files(&src(), &mut all);
        let root = src();
        let rels: Vec<String> = all
            .iter()
            .map(|p| {
                p.strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/")
            })
            .filter(|r| r != "main.rs" && !r.starts_with("bin/"))
            .collect();
        let mut codes = HashMap::new();
        // Re-exports: (module file, name) → absolute path of the re-exported item.
        let mut reexports: HashMap<(String, String), Vec<String>> = HashMap::new();
        for rel in &rels {
            let code = code_of(&fs::read_to_string(root.join(rel)).unwrap());
            let module = module_of(rel);
            for (public, tree) in uses(&code) {
                if !public {
                    continue;
                }
                for path in expand(&tree) {
                    if let (Some(abs), Some(name)) = (absolute(&module, &path), path.last()) {
                        reexports.insert((rel.clone(), name.clone()), abs);
                    }
                }
            }
            codes.insert(rel.clone(), code);
        }
        let resolve = |abs: &[String]| -> Option<String> {
            let mut abs = abs.to_vec();
            for _ in 0..8 {
                let mut depth = 0;
                while depth < abs.len() && file_of(&abs[..=depth]).is_some() {
                    depth += 1;
                }
                let file = file_of(&abs[..depth])?;
                match abs
                    .get(depth)
                    .and_then(|n| reexports.get(&(file.clone(), n.clone())))
                {
                    Some(target) if target.as_slice() != abs.as_slice() => {
                        let mut next = target.clone();
                        next.extend(abs[depth + 1..].iter().cloned());
                        abs = next;
                    }
                    _ => return Some(file),
                }
            }
            None
        };
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for rel in &rels {
            let code = &codes[rel];
            let mut targets = Vec::new();
            for (module, part) in inline_modules(code, &module_of(rel)) {
                for (public, tree) in uses(part) {
                    if public {
                        continue;
                    }
                    for path in expand(&tree) {
                        if let Some(abs) = absolute(&module, &path) {
                            targets.push(abs);
                        }
                    }
                }
            }
            // Inline paths: crate::a::b, not inside use statements (those were expanded).
            let mut rest = code.as_str();
            while let Some(i) = rest.find("crate::") {
                let before = rest[..i].chars().last();
                let tail = &rest[i..];
                let len = tail
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .unwrap_or(tail.len());
                if !before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                    let path: Vec<String> = tail[..len]
                        .split("::")
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect();
                    targets.push(path[1..].to_vec());
                }
                rest = &tail[len.max(7)..];
            }
            let entry = edges.entry(rel.clone()).or_default();
            for t in targets {
                if let Some(file) = resolve(&t)
                    && &file != rel
                {
                    entry.insert(file);
                }
            }
        }
        Graph { edges }
    }

    impl Graph {
        /// The strongly connected components of more than one file (Tarjan).
        pub fn cycles(&self) -> Vec<BTreeSet<String>> {
            struct T<'g> {
                g: &'g BTreeMap<String, BTreeSet<String>>,
                index: HashMap<&'g str, usize>,
                low: HashMap<&'g str, usize>,
                stack: Vec<&'g str>,
                on: BTreeSet<&'g str>,
                next: usize,
                out: Vec<BTreeSet<String>>,
            }
            fn visit<'g>(t: &mut T<'g>, v: &'g str) {
                t.index.insert(v, t.next);
                t.low.insert(v, t.next);
                t.next += 1;
                t.stack.push(v);
                t.on.insert(v);
                let g = t.g;
                for w in g.get(v).into_iter().flatten() {
                    let w = w.as_str();
                    if !t.index.contains_key(w) {
                        visit(t, w);
                        let lw = t.low[w];
                        let lv = t.low.get_mut(v).unwrap();
                        *lv = (*lv).min(lw);
                    } else if t.on.contains(w) {
                        let iw = t.index[w];
                        let lv = t.low.get_mut(v).unwrap();
                        *lv = (*lv).min(iw);
                    }
                }
                if t.low[v] == t.index[v] {
                    let mut comp = BTreeSet::new();
                    while let Some(w) = t.stack.pop() {
                        t.on.remove(w);
                        comp.insert(w.to_owned());
                        if w == v {
                            break;
                        }
                    }
                    if comp.len() > 1 {
                        t.out.push(comp);
                    }
                }
            }
            let mut t = T {
                g: &self.edges,
                index: HashMap::new(),
                low: HashMap::new(),
                stack: Vec::new(),
                on: BTreeSet::new(),
                next: 0,
                out: Vec::new(),
            };
            for v in self.edges.keys() {
                if !t.index.contains_key(v.as_str()) {
                    visit(&mut t, v);
                }
            }
            t.out
        }

        /// One shortest cycle through the first file of `comp`, as `a → b → … → a`.
        pub fn a_cycle(&self, comp: &BTreeSet<String>) -> String {
            let start = comp.iter().next().unwrap();
            let mut prev: HashMap<&str, &str> = HashMap::new();
            let mut queue = VecDeque::from([start.as_str()]);
            while let Some(v) = queue.pop_front() {
                for w in self.edges.get(v).into_iter().flatten() {
                    if !comp.contains(w) {
                        continue;
                    }
                    if w == start {
                        let mut path = vec![start.as_str(), v];
                        let mut at = v;
                        while at != start {
                            at = prev[at];
                            path.push(at);
                        }
                        path.reverse();
                        return path.join(" → ");
                    }
                    if !prev.contains_key(w.as_str()) {
                        prev.insert(w, v);
                        queue.push_back(w);
                    }
                }
            }
            String::new()
        }
    }
}

/// The files allowed to name `AppState`: the wiring.
const WIRING: &[&str] = &["app.rs", "cli.rs", "main.rs"];

/// The import cycles allowed in `src/` (each a strongly connected component of the file
/// graph, see [`import_graph`]). The test fails on a new cycle, on a cycle that grew, and on an
/// entry that shrank or vanished (update the list), so it can only shrink.
///
/// The one left is the GraphQL type graph itself: `User.roleAssignments` names a
/// `RoleAssignment`, which names its `Role`, and `Role.users` names `User` back. Object types
/// that reach each other through fields must name each other's Rust types, so keeping each in
/// the file named after it makes those files name each other. Nothing outside these three is
/// in it (a user's second factors are in `graphql/mfa_factor.rs` and the sign-in challenge in
/// `graphql/auth.rs` for that reason).
const CYCLES_LEFT: &[&[&str]] = &[&[
    "graphql/role.rs",
    "graphql/role_assignment.rs",
    "graphql/user.rs",
]];

/// The files outside the wiring that still take `AppState` instead of the services they use.
/// Empty: every module receives its services (`ops::sign_in::SignIn`,
/// `graphql::context::Services`, `http::graphql_http::Endpoint`, or one service as
/// `web::Data<…>`); the test keeps it so.
const APP_STATE_LEFT: &[&str] = &[];

#[test]
fn no_import_cycle_but_the_listed_ones() {
    let graph = import_graph::build();
    let found = graph.cycles();
    let mut problems = Vec::new();
    for comp in &found {
        let listed = CYCLES_LEFT.iter().any(|allowed| {
            allowed.len() == comp.len() && allowed.iter().all(|f| comp.contains(*f))
        });
        if !listed {
            problems.push(format!(
                "import cycle of {} files not in CYCLES_LEFT: {comp:?}\n  e.g. {}",
                comp.len(),
                graph.a_cycle(comp)
            ));
        }
    }
    for allowed in CYCLES_LEFT {
        let still = found
            .iter()
            .any(|comp| allowed.len() == comp.len() && allowed.iter().all(|f| comp.contains(*f)));
        if !still {
            problems.push(format!(
                "CYCLES_LEFT entry {allowed:?} is no longer a cycle as listed: shrink the list"
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn app_state_is_named_by_the_wiring_only() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = import_graph::build();
    let mut naming = Vec::new();
    for file in graph.edges.keys() {
        let text = fs::read_to_string(root.join(file)).unwrap_or_default();
        let code = text
            .lines()
            .any(|l| !l.trim_start().starts_with("//") && l.contains("AppState"));
        if code && !WIRING.contains(&file.as_str()) && file != "layer_rules.rs" {
            naming.push(file.clone());
        }
    }
    let new: Vec<_> = naming
        .iter()
        .filter(|f| !APP_STATE_LEFT.contains(&f.as_str()))
        .collect();
    let gone: Vec<_> = APP_STATE_LEFT
        .iter()
        .filter(|f| !naming.iter().any(|n| n == *f))
        .collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "AppState outside the wiring: {new:?} (take the services instead); no longer \
         naming it, remove from APP_STATE_LEFT: {gone:?}"
    );
}
