use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tollgate::app::LaunchError;
use tollgate::cli::{Cli, Command, run_admin};
use tollgate::{App, telemetry};

fn main() -> ExitCode {
    // Called as `influxctl` (a symlink) or `tollgate ctl …`: the influxctl-compatible client.
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if let Some(args) = tollgate::ctl::invocation(&args) {
        return tollgate::ctl::run(args);
    }
    server_main()
}

#[tokio::main]
async fn server_main() -> ExitCode {
    let cli = Cli::parse();
    let config = match cli.command.config() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("tollgate: {e}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&config.log_level, config.log_format);
    match cli.command {
        Command::Serve(_) => {
            let result = async {
                // Bind first: a port in use fails at once, before anything is migrated or minted.
                let listener = TcpListener::bind(config.bind).await.map_err(|e| {
                    LaunchError::Config(format!("cannot listen on {}: {e}", config.bind))
                })?;
                let app = App::prepare(&config).await?;
                app.serve(listener, shutdown_signal()).await
            }
            .await;
            match result {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    tracing::error!(error = %e, "tollgate failed");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Admin(command) => match run_admin(&command, &config).await {
            Ok(out) => {
                println!("{out}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("tollgate: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

/// SIGTERM (Kubernetes) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
