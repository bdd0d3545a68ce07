//! The TypeScript types of the contract operations (`clients/typescript/contract.ts`) are what
//! graphql-codegen makes today of `../shared/contract/operations.graphql` against
//! `schema.graphql` (with `clients/typescript/codegen.yml`), and they compile under
//! `tsc --strict` together with a product app's use of them (`clients/typescript/usage.ts`).
//! graphql-codegen and TypeScript are installed into tests/tools by scripts/test.sh.

use std::{path::Path, process::Command};

fn tool(root: &Path, name: &str) -> std::path::PathBuf {
    let bin = root.join("tests/tools/node_modules/.bin").join(name);
    assert!(
        bin.exists(),
        "{} is missing: run `bash scripts/test.sh --setup-only` (its npm_step lines install \
         graphql-codegen and typescript into tests/tools)",
        bin.display()
    );
    bin
}

fn run(command: &mut Command) {
    let out = command.output().expect("the tool starts");
    assert!(
        out.status.success(),
        "{command:?} failed\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_contract_typescript_types_are_current_and_compile_under_tsc_strict() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = std::env::temp_dir().join(format!("tenant-hub-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    let generated = scratch.join("contract.ts");
    // The committed configuration, writing to the scratch directory instead.
    let config = std::fs::read_to_string(root.join("clients/typescript/codegen.yml")).unwrap();
    let config = config.replace(
        "  clients/typescript/contract.ts:",
        &format!("  {}:", generated.display()),
    );
    let config_path = scratch.join("codegen.yml");
    std::fs::write(&config_path, config).unwrap();
    run(Command::new(tool(root, "graphql-codegen"))
        .arg("--config")
        .arg(&config_path)
        .env("NODE_PATH", root.join("tests/tools/node_modules"))
        .current_dir(root));
    let fresh = std::fs::read_to_string(&generated).unwrap();
    let committed =
        std::fs::read_to_string(root.join("clients/typescript/contract.ts")).unwrap_or_default();
    assert!(
        fresh == committed,
        "clients/typescript/contract.ts is stale: regenerate it (see clients/typescript/codegen.yml)"
    );
    run(Command::new(tool(root, "tsc"))
        .arg("-p")
        .arg(root.join("clients/typescript/tsconfig.json")));
    let _ = std::fs::remove_dir_all(&scratch);
}
