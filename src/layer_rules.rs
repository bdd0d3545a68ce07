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
