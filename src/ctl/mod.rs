//! `influxctl`: an influxctl 2.12-compatible command line for tollgate's `/api/v0`.
//!
//! Runs when the binary is called `influxctl` (a symlink, see `scripts/install-cli`) or as
//! `tollgate ctl …`. It talks HTTP to a tollgate server only and uses none of the server's
//! internals: `config` (influxctl's `config.toml` and its profiles), `oauth` (the device
//! authorization grant and the token cache), `client` (the `/api/v0` client), `output`
//! (tables and JSON), `parse` (Go durations, RFC 3339), `commands` (what each command does).

mod client;
mod commands;
mod config;
mod oauth;
mod output;
mod parse;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub use parse::{format_go_duration, parse_go_duration};

/// The influxctl release whose commands, flags, configuration and output this implements.
pub const INFLUXCTL_VERSION: &str = "2.12.0";

/// The arguments for [`run`] when this process should be influxctl: argv[0]'s file name is
/// `influxctl` (or `influxctl.exe`), or the first argument is `ctl`. `None` otherwise.
pub fn invocation(args: &[OsString]) -> Option<Vec<OsString>> {
    let name = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str());
    if matches!(name, Some("influxctl" | "influxctl.exe")) {
        let mut args = args.to_vec();
        args[0] = OsString::from("influxctl");
        return Some(args);
    }
    if args.get(1).is_some_and(|a| a == "ctl") {
        let mut rest = vec![OsString::from("influxctl")];
        rest.extend(args.iter().skip(2).cloned());
        return Some(rest);
    }
    None
}

/// Runs one influxctl command line (`args[0]` is the program name). Errors go to stderr.
pub fn run(args: Vec<OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What went wrong, as the user should read it. Never holds a credential.
#[derive(Debug)]
pub struct Error(String);

impl Error {
    pub fn new(message: impl Into<String>) -> Error {
        Error(message.into())
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// Log lines on stderr, zap console style (`level<TAB>message`), as influxctl writes them.
#[derive(Debug, Clone, Copy)]
pub struct Log {
    debug: bool,
    trace: bool,
}

impl Log {
    pub fn debug(&self, message: impl std::fmt::Display) {
        if self.debug || self.trace {
            eprintln!("debug\t{message}");
        }
    }

    pub fn trace(&self, message: impl std::fmt::Display) {
        if self.trace {
            eprintln!("debug\t{message}");
        }
    }

    pub fn tracing(&self) -> bool {
        self.trace
    }

    pub fn info(&self, message: impl std::fmt::Display) {
        eprintln!("info\t{message}");
    }

    pub fn warn(&self, message: impl std::fmt::Display) {
        eprintln!("warn\t{message}");
    }
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_go_duration(s)
}

#[derive(Debug, Parser)]
#[command(
    name = "influxctl",
    bin_name = "influxctl",
    about = "influxctl-compatible command line for tollgate (InfluxDB Clustered management API)",
    disable_version_flag = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Path to config.toml [default: ~/.config/influxctl/config.toml, or under $XDG_CONFIG_HOME]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Profile to use from config.toml
    #[arg(
        long,
        global = true,
        env = "INFLUXCTL_PROFILE",
        default_value = "default",
        value_name = "NAME"
    )]
    pub profile: String,
    /// API call timeout (Go duration, e.g. 30s, 1m, 1h30m)
    #[arg(long, global = true, default_value = "1m", value_parser = duration_arg, value_name = "DURATION")]
    pub timeout: Duration,
    /// Debug logging on stderr
    #[arg(long, global = true)]
    pub debug: bool,
    /// More verbose logging: each HTTP request and response, credentials redacted
    #[arg(long, global = true)]
    pub trace: bool,
    /// Override the profile's account_id (Cloud Dedicated paths)
    #[arg(long, global = true, value_name = "ID")]
    pub account: Option<String>,
    /// Override the profile's cluster_id (Cloud Dedicated paths)
    #[arg(long, global = true, value_name = "ID")]
    pub cluster: Option<String>,
    /// Management token to use, before the profile's mgmt_token, token_file and OAuth login.
    /// A flag's value is visible to every local user in the process list: prefer
    /// INFLUXCTL_TOKEN or --token-file
    #[arg(
        long,
        global = true,
        env = "INFLUXCTL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
    /// Read the management token from this file (the token alone, or JSON with access_token),
    /// as --token would use it
    #[arg(
        long,
        global = true,
        env = "INFLUXCTL_TOKEN_FILE",
        value_name = "PATH",
        conflicts_with = "token"
    )]
    pub token_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Manage database tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage management tokens
    #[command(subcommand)]
    Management(ManagementCommand),
    /// List the users allowed on the cluster
    #[command(subcommand)]
    User(UserCommand),
    /// Log in to or out of the cluster's identity provider
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Print the version
    Version,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a database token; the token is printed once
    Create(TokenCreate),
    /// List database tokens
    List(TokenList),
    /// Show one database token
    Get(TokenGet),
    /// Revoke database tokens (asks first unless --force)
    #[command(alias = "delete")]
    Revoke(Revoke),
    /// Update a database token (its description; tollgate refuses permission changes)
    Update(TokenUpdate),
    /// Replace a database token by a new one with the same permissions; the old one keeps
    /// working for the grace period
    Rotate(TokenRotate),
}

#[derive(Debug, Args)]
pub struct TokenCreate {
    /// Grant read on a database, or "*" for every database (repeatable)
    #[arg(long = "read-database", value_name = "DATABASE_NAME")]
    pub read: Vec<String>,
    /// Grant write on a database, or "*" for every database (repeatable)
    #[arg(long = "write-database", value_name = "DATABASE_NAME")]
    pub write: Vec<String>,
    /// Expiry, RFC 3339 (Z, ±hh:mm or ±hhmm); without it the token never expires
    #[arg(long, value_name = "RFC3339_DATE")]
    pub expires_at: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// The token's description
    #[arg(value_name = "TOKEN_DESCRIPTION")]
    pub description: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TokenSort {
    Id,
    Description,
}

#[derive(Debug, Args)]
pub struct TokenList {
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Sort order
    #[arg(long, value_enum, default_value = "id")]
    pub sort: TokenSort,
    /// Also list revoked tokens
    #[arg(long)]
    pub include_revoked: bool,
}

#[derive(Debug, Args)]
pub struct TokenGet {
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Return the token even when it is revoked
    #[arg(long)]
    pub include_revoked: bool,
    #[arg(value_name = "TOKEN_ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct Revoke {
    /// Do not ask for confirmation
    #[arg(long)]
    pub force: bool,
    /// One or more token ids
    #[arg(value_name = "TOKEN_ID", required = true)]
    pub ids: Vec<String>,
}

#[derive(Debug, Args)]
pub struct TokenUpdate {
    /// New read permission (replaces the set; tollgate refuses permission changes)
    #[arg(long = "read-database", value_name = "DATABASE_NAME")]
    pub read: Vec<String>,
    /// New write permission (replaces the set; tollgate refuses permission changes)
    #[arg(long = "write-database", value_name = "DATABASE_NAME")]
    pub write: Vec<String>,
    /// New description
    #[arg(long)]
    pub description: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(value_name = "TOKEN_ID")]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct TokenRotate {
    /// How long the old token keeps working (Go duration; 0s revokes it at once)
    #[arg(long, default_value = "1h", value_parser = duration_arg, value_name = "DURATION")]
    pub grace: Duration,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    #[arg(value_name = "TOKEN_ID")]
    pub id: String,
}

#[derive(Debug, Subcommand)]
pub enum ManagementCommand {
    /// Create a management token for automation; the token is printed once
    Create(ManagementCreate),
    /// List management tokens, revoked ones included
    List(ManagementList),
    /// Revoke management tokens (asks first unless --force)
    #[command(alias = "delete")]
    Revoke(Revoke),
}

#[derive(Debug, Args)]
pub struct ManagementCreate {
    /// The token's description (must not be empty)
    #[arg(long)]
    pub description: Option<String>,
    /// Expiry, RFC 3339 (Z, ±hh:mm or ±hhmm); without it the token lasts until revoked
    #[arg(long, value_name = "RFC3339_DATE")]
    pub expires_at: Option<String>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ManagementSort {
    Created,
    Id,
    Description,
    Prefix,
    Expires,
    Revoked,
}

#[derive(Debug, Args)]
pub struct ManagementList {
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Sort order
    #[arg(long, value_enum, default_value = "created")]
    pub sort: ManagementSort,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List the users allowed on the cluster
    List(UserList),
}

#[derive(Debug, Args)]
pub struct UserList {
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Log in with the device authorization flow of [profile.auth.oauth2] and cache the token
    Login,
    /// Remove the cached login token
    Logout,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn influxctl_by_name_or_by_the_ctl_subcommand() {
        assert_eq!(
            invocation(&os(&["/usr/local/bin/influxctl", "token", "list"])),
            Some(os(&["influxctl", "token", "list"]))
        );
        assert_eq!(
            invocation(&os(&["influxctl.exe", "version"])),
            Some(os(&["influxctl", "version"]))
        );
        assert_eq!(
            invocation(&os(&["target/debug/tollgate", "ctl", "version"])),
            Some(os(&["influxctl", "version"]))
        );
        assert_eq!(invocation(&os(&["tollgate", "serve"])), None);
        assert_eq!(invocation(&os(&["tollgate", "admin", "ctl"])), None);
        assert_eq!(invocation(&os(&["tollgate"])), None);
    }

    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
