//! Registered operations: in `HUB_PERSISTED_QUERIES=registered` mode the hub runs only the
//! operations of the file `HUB_REGISTERED_OPERATIONS` (for example the clients' contract), named
//! either by the SHA-256 of their text (`extensions.persistedQuery.sha256Hash`, as automatic
//! persisted queries do) or by sending the same text (whitespace aside).
//!
//! File format: operations (and fragments) start at column 0 with `query`, `mutation`,
//! `subscription` or `fragment`; lines starting with `#` are comments. Every operation is
//! registered together with all fragments of the file.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

pub struct Registry {
    by_hash: HashMap<String, String>,
}

/// Whitespace-insensitive form of a document, for comparing sent texts.
fn normalize(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl Registry {
    pub fn parse(source: &str) -> Registry {
        let mut blocks: Vec<String> = Vec::new();
        for line in source.lines() {
            if line.starts_with('#') {
                continue;
            }
            let starts = ["query", "mutation", "subscription", "fragment"]
                .iter()
                .any(|k| line.starts_with(k));
            if starts || blocks.is_empty() {
                blocks.push(String::new());
            }
            let current = blocks.last_mut().expect("a block was pushed");
            current.push_str(line);
            current.push('\n');
        }
        let fragments: String = blocks
            .iter()
            .filter(|b| b.starts_with("fragment"))
            .cloned()
            .collect();
        let mut by_hash = HashMap::new();
        for op in blocks
            .iter()
            .filter(|b| !b.starts_with("fragment") && !b.trim().is_empty())
        {
            let text = format!(
                "{}{}",
                op.trim_end(),
                if fragments.is_empty() {
                    String::new()
                } else {
                    format!("\n{fragments}")
                }
            );
            by_hash.insert(sha256_hex(op.trim_end()), text.clone());
            by_hash.insert(sha256_hex(&normalize(op)), text);
        }
        Registry { by_hash }
    }

    pub fn load(path: &std::path::Path) -> anyhow::Result<Registry> {
        let source = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "cannot read HUB_REGISTERED_OPERATIONS {}: {e}",
                path.display()
            )
        })?;
        Ok(Registry::parse(&source))
    }

    pub fn len(&self) -> usize {
        self.by_hash.len() / 2
    }

    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// The registered text for a request: by the hash it names, or by its own text.
    pub fn resolve(&self, hash: Option<&str>, query: &str) -> Option<&str> {
        if let Some(h) = hash {
            return self
                .by_hash
                .get(&h.to_ascii_lowercase())
                .map(String::as_str);
        }
        self.by_hash
            .get(&sha256_hex(&normalize(query)))
            .map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_resolve_by_hash_or_text_and_others_do_not() {
        let file = "# contract\nquery Me {\n  me { id }\n}\n\nmutation Logout {\n  logout\n}\n";
        let r = Registry::parse(file);
        assert_eq!(r.len(), 2);
        let me = "query Me {\n  me { id }\n}";
        assert!(r.resolve(Some(&sha256_hex(me)), "").is_some());
        assert!(r.resolve(None, "query Me { me { id } }").is_some());
        assert!(r.resolve(None, "query Other { me { id email } }").is_none());
        assert!(r.resolve(Some("00"), "query Me { me { id } }").is_none());
    }
}
