use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = biaozhun::cli::Cli::parse();
    // The server logs every request (method, path, status, latency) by default; the
    // one-shot commands only warn. RUST_LOG overrides both.
    let default = match cli.command {
        biaozhun::cli::Command::Serve(_) => "info,tower_http=info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    biaozhun::cli::run(cli)
}
