//! The command line: `tollgate serve` and `tollgate admin …`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::{Config, LogFormat, Overrides};
use crate::store;
use crate::token::hashing::{HashPool, Lane};
use crate::token::service::TokenService;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Token authority for InfluxDB-style clusters",
    after_help = "The influxctl-compatible client: `tollgate ctl --help`, or this binary run as `influxctl` (scripts/install-cli)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the configuration and the store are; every command takes these.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// TOML configuration file.
    #[arg(long, env = "TOLLGATE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// postgres://…, sqlite://…, or a SQLite file path [default: tollgate.db in the data dir].
    #[arg(
        long,
        env = "TOLLGATE_DATABASE_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub database_url: Option<String>,
    /// Data directory, holding the SQLite default and the operator token file [default: ./data].
    #[arg(long, env = "TOLLGATE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// Logging; without --log-level or TOLLGATE_LOG_LEVEL, RUST_LOG is honoured.
#[derive(Debug, Args)]
pub struct LogArgs {
    /// Log filter, e.g. info or tollgate=debug,sqlx=warn [default: info, or RUST_LOG].
    #[arg(long, env = "TOLLGATE_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log format [default: text].
    #[arg(long, env = "TOLLGATE_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on [default: 127.0.0.1:8086].
    #[arg(long, env = "TOLLGATE_BIND", value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl LogArgs {
    fn overrides(&self, overrides: &mut Overrides) {
        overrides.log_level = self.log_level.clone();
        overrides.log_format = self.log_format.map(|f| match f {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        });
    }
}

impl StoreArgs {
    fn overrides(&self) -> Overrides {
        Overrides {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            ..Overrides::default()
        }
    }
}

impl Command {
    /// The effective configuration for this command: file, environment, then its flags.
    pub fn config(&self) -> Result<Config, crate::config::ConfigError> {
        let (store, log, bind) = match self {
            Command::Serve(args) | Command::Admin(AdminCommand::Config(args)) => {
                (&args.store, Some(&args.log), args.bind)
            }
            Command::Admin(AdminCommand::OperatorToken { store, .. }) => (store, None, None),
        };
        let mut overrides = store.overrides();
        overrides.bind = bind;
        if let Some(log) = log {
            log.overrides(&mut overrides);
        }
        Config::load(store.config.as_deref(), &overrides)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve(ServeArgs),
    /// Offline administration, straight against the store.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print the effective configuration (file, environment and flags merged), password masked.
    /// Takes every flag `serve` takes, to show what it would run with.
    Config(ServeArgs),
    /// The break-glass operator management token.
    OperatorToken {
        /// Revoke the current operator token and print a new one, once, on stdout; the
        /// operator-token file in the data directory is rewritten when it exists.
        #[arg(long)]
        regenerate: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(
        "the operator token cannot be shown again; pass --regenerate to revoke it and print a new one"
    )]
    NothingToDo,
    #[error("{0}")]
    Failed(String),
}

/// Runs an admin command; returns what to print on stdout.
pub async fn run_admin(command: &AdminCommand, config: &Config) -> Result<String, AdminError> {
    let failed = |e: &dyn std::fmt::Display| AdminError::Failed(e.to_string());
    match command {
        AdminCommand::Config(_) => Ok(config.to_redacted_toml()),
        AdminCommand::OperatorToken {
            regenerate: false, ..
        } => Err(AdminError::NothingToDo),
        AdminCommand::OperatorToken {
            regenerate: true, ..
        } => {
            // Pointed at the wrong directory, this must not create an empty store to mint into.
            if let Some(file) = config.database_url.sqlite_file()
                && !file.exists()
            {
                return Err(AdminError::Failed(format!(
                    "there is no store at {}; pass the --data-dir (or --database-url) that tollgate serve uses",
                    file.display()
                )));
            }
            // Two regenerations at once here: the one that commits last must also write the
            // file last, or the file would hold a revoked token. The lock goes with the file.
            let file = config.data_dir.join(crate::bootstrap::OPERATOR_TOKEN_FILE);
            let _lock = if file.exists() {
                Some(crate::bootstrap::lock_beside(&file).map_err(|e| failed(&e))?)
            } else {
                None
            };
            let store = store::open(config).await.map_err(|e| failed(&e))?;
            let one = Lane {
                threads: 1,
                queue: 0,
            };
            let pool = HashPool::new(
                one,
                one,
                config.argon2.database_tokens,
                config.argon2.management_tokens,
            )
            .map_err(|e| failed(&e))?;
            let tokens = TokenService::new(store.clone(), pool);
            let regenerated = tokens.regenerate_operator().await;
            store.close().await;
            let (minted, revoked) = regenerated.map_err(|e| failed(&e))?;
            tracing::info!(token_id = %minted.id, revoked = revoked.len(), "operator token regenerated");
            // The file the first start wrote would now hold a revoked token.
            if file.exists() {
                crate::bootstrap::replace_token_file(&file, &minted.plain)
                    .map_err(|e| failed(&e))?;
                eprintln!(
                    "tollgate: {} now holds the new operator token",
                    file.display()
                );
            }
            Ok(minted.plain)
        }
    }
}
