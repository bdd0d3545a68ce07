//! The `tenant-hub` binary: see `tenant-hub --help`.

use clap::Parser;

/// mimalloc rather than the system allocator: glibc kept the 19 MiB argon2 blocks of concurrent
/// logins in per-thread arenas (peak RSS 716 MB under the load benchmark's login run); mimalloc
/// returns them (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = tenant_hub::cli::Cli::parse();
    let outcome = tenant_hub::cli::run(cli).await;
    tenant_hub::telemetry::flush();
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tenant-hub: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
