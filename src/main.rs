//! The `tenant-hub` binary: see `tenant-hub --help`.

use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = tenant_hub::cli::Cli::parse();
    match tenant_hub::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tenant-hub: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
