//! The command line: `tollgate serve` and `tollgate admin …`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::audit::{AuditEvent, Origin};
use crate::config::{Config, LogFormat, Overrides};
use crate::store::Store;
use crate::token::service::TokenService;
use crate::verify::HashPool;

#[derive(Debug, Parser)]
#[command(
    name = "tollgate",
    version,
    about = "Token authority for InfluxDB-style clusters"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: ConfigArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Configuration flags; they win over the file and the environment.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, global = true, env = "TOLLGATE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8086].
    #[arg(long, global = true, value_name = "ADDR")]
    pub bind: Option<SocketAddr>,
    /// postgres://…, sqlite://…, or a SQLite file path [default: tollgate.db in the data dir].
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// Data directory [default: ./data].
    #[arg(long, global = true, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Log filter, e.g. info or tollgate=debug [default: info].
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,
    /// Log format [default: text].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormatArg>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormatArg {
    Text,
    Json,
}

impl ConfigArgs {
    pub fn load(&self) -> Result<Config, crate::config::ConfigError> {
        let overrides = Overrides {
            bind: self.bind,
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            log_level: self.log_level.clone(),
            log_format: self.log_format.map(|f| match f {
                LogFormatArg::Text => LogFormat::Text,
                LogFormatArg::Json => LogFormat::Json,
            }),
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server.
    Serve,
    /// Offline administration, straight against the store.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Print the effective configuration (file, environment and flags merged), password masked.
    Config,
    /// The break-glass operator management token.
    OperatorToken {
        /// Revoke the current operator token and print a new one, once, on stdout.
        #[arg(long)]
        regenerate: bool,
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
        AdminCommand::Config => Ok(config.to_redacted_toml()),
        AdminCommand::OperatorToken { regenerate: false } => Err(AdminError::NothingToDo),
        AdminCommand::OperatorToken { regenerate: true } => {
            let store = Store::open(config).await.map_err(|e| failed(&e))?;
            let pool = HashPool::new(
                1,
                0,
                config.argon2.database_tokens,
                config.argon2.management_tokens,
            )
            .map_err(|e| failed(&e))?;
            let tokens = TokenService::new(store.clone(), pool);
            let (new, minted) = tokens.new_operator_token().await.map_err(|e| failed(&e))?;
            let audit = AuditEvent::new("cli", "operator_token.regenerate", &Origin::default())
                .target(new.id.to_string());
            let revoked = store
                .replace_operator(&new, &audit)
                .await
                .map_err(|e| failed(&e))?;
            store.close().await;
            tracing::info!(token_id = %minted.id, revoked, "operator token regenerated");
            Ok(minted.plain)
        }
    }
}
