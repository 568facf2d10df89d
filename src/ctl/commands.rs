//! What each influxctl command does, against tollgate's `/api/v0`.

use std::io::BufRead;
use std::path::Path;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::client::{Api, Credential, Source, http_client};
use super::config::{self, Profile, Secret};
use super::output::{self, clean, key_value, print, table};
use super::parse::{self, parse_rfc3339, table_time};
use super::{
    AuthCommand, Cli, Command, Error, Format, Global, INFLUXCTL_VERSION, Log, ManagementCommand,
    ManagementCreate, ManagementList, ManagementSort, Revoke, TokenCommand, TokenCreate, TokenGet,
    TokenList, TokenRotate, TokenSort, TokenUpdate, UserCommand, format_go_duration, oauth,
};

const WARN_COPY: &str = "please copy the token and store in a safe place";
const WARN_ONCE: &str = "this is the *only time* you will see the token";
/// The permission id influxctl shows for tollgate's permissions, which have none.
const NO_PERMISSION_ID: &str = "00000000-0000-0000-0000-000000000000";
/// What `management create` sends when no --description is given (tollgate needs one).
const DEFAULT_MANAGEMENT_DESCRIPTION: &str = "management token created with influxctl";

pub async fn run(cli: Cli) -> Result<(), Error> {
    let log = Log {
        debug: cli.global.debug,
        trace: cli.global.trace,
    };
    let ctx = Ctx {
        global: cli.global,
        log,
    };
    match cli.command {
        Command::Version => print(&format!(
            "influxctl {INFLUXCTL_VERSION} (tollgate {})",
            env!("CARGO_PKG_VERSION")
        )),
        Command::Auth(AuthCommand::Logout) => {
            let path = oauth::cache_file(&ctx.global.profile)?;
            if oauth::remove(&path)? {
                log.info(format_args!("logged out: removed {}", path.display()));
            } else {
                log.info(format_args!("not logged in: no {}", path.display()));
            }
            Ok(())
        }
        Command::Auth(AuthCommand::Login) => {
            let profile = ctx.profile()?;
            let oauth2 = profile.auth.oauth2.as_ref().ok_or_else(|| {
                Error::new(format!(
                    "profile {:?} has no [profile.auth.oauth2] to log in with",
                    clean(&profile.name)
                ))
            })?;
            let path = oauth::cache_file(&profile.name)?;
            oauth::login(oauth2, &path, ctx.global.timeout, log).await?;
            log.info(format_args!(
                "logged in; the token is cached in {}",
                path.display()
            ));
            Ok(())
        }
        Command::Token(command) => {
            let (api, profile) = ctx.api().await?;
            let scope = ctx.scope(&profile);
            match command {
                TokenCommand::Create(args) => token_create(&api, &scope, args).await,
                TokenCommand::List(args) => token_list(&api, &scope, args).await,
                TokenCommand::Get(args) => token_get(&api, &scope, args).await,
                TokenCommand::Revoke(args) => revoke(&api, Kind::Database(&scope), args).await,
                TokenCommand::Update(args) => token_update(&api, &scope, args).await,
                TokenCommand::Rotate(args) => token_rotate(&api, &scope, args, log).await,
            }
        }
        Command::Management(command) => {
            let (api, profile) = ctx.api().await?;
            let scope = ctx.scope(&profile);
            match command {
                ManagementCommand::Create(args) => management_create(&api, args).await,
                ManagementCommand::List(args) => management_list(&api, &scope, args).await,
                ManagementCommand::Revoke(args) => revoke(&api, Kind::Management, args).await,
            }
        }
        Command::User(UserCommand::List(args)) => {
            let (api, _) = ctx.api().await?;
            user_list(&api, args.format).await
        }
    }
}

struct Ctx {
    global: Global,
    log: Log,
}

/// The Cloud Dedicated account and cluster, when both are known.
struct Scope {
    account_id: String,
    cluster_id: String,
}

impl Scope {
    fn dedicated(&self) -> bool {
        !self.account_id.is_empty() && !self.cluster_id.is_empty()
    }

    /// The path of the database-token collection (`/api/v0/tokens`, or under the account and
    /// cluster when both are known) with `rest` after it.
    fn tokens<'a>(&'a self, rest: &[&'a str]) -> Vec<&'a str> {
        let mut path = vec!["api", "v0"];
        if self.dedicated() {
            path.extend([
                "accounts",
                self.account_id.as_str(),
                "clusters",
                self.cluster_id.as_str(),
            ]);
        }
        path.push("tokens");
        path.extend(rest);
        path
    }
}

impl Ctx {
    fn profile(&self) -> Result<Profile, Error> {
        let path = match &self.global.config {
            Some(path) => path.clone(),
            None => config::default_path()?,
        };
        self.log.debug(format_args!(
            "config {}, profile {:?}",
            path.display(),
            self.global.profile
        ));
        config::load(&path, &self.global.profile)
    }

    fn scope(&self, profile: &Profile) -> Scope {
        let pick = |flag: &Option<String>, conf: &Option<String>| {
            flag.as_deref()
                .or(conf.as_deref())
                .map(str::trim)
                .unwrap_or("")
                .to_owned()
        };
        Scope {
            account_id: pick(&self.global.account, &profile.account_id),
            cluster_id: pick(&self.global.cluster, &profile.cluster_id),
        }
    }

    /// The profile's server with its management credential, logging in when that is how.
    async fn api(&self) -> Result<(Api, Profile), Error> {
        let profile = self.profile()?;
        let base = profile.base_url()?;
        let http = http_client(&profile, self.global.timeout, self.log)?;
        let credential = self.credential(&profile).await?;
        self.log.debug(format_args!(
            "server {base}, credential from {}",
            credential.source
        ));
        Ok((
            Api::new(http, base, self.global.timeout, credential, self.log),
            profile,
        ))
    }

    /// `--token`/`INFLUXCTL_TOKEN` or `--token-file`, then `mgmt_token`, then `token_file`, then OAuth: the
    /// cached login, else a new one.
    async fn credential(&self, profile: &Profile) -> Result<Credential, Error> {
        if let Some(token) = self
            .global
            .token
            .as_deref()
            .filter(|t| !t.trim().is_empty())
        {
            return Ok(Credential {
                secret: Secret::new(token.trim().to_owned()),
                source: Source::Override,
            });
        }
        if let Some(file) = &self.global.token_file {
            return Ok(Credential {
                secret: read_token_file(file)?,
                source: Source::Override,
            });
        }
        if let Some(token) = profile.mgmt_token.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Credential {
                secret: Secret::new(token.expose().trim().to_owned()),
                source: Source::MgmtToken,
            });
        }
        if let Some(file) = &profile.auth.token {
            return Ok(Credential {
                secret: read_token_file(&file.token_file)?,
                source: Source::TokenFile(file.token_file.clone()),
            });
        }
        if let Some(oauth2) = &profile.auth.oauth2 {
            let cache = oauth::cache_file(&profile.name)?;
            let secret = match oauth::load(&cache, oauth2, self.log) {
                Some(secret) => secret,
                None => oauth::login(oauth2, &cache, self.global.timeout, self.log).await?,
            };
            return Ok(Credential {
                secret,
                source: Source::OAuth(cache),
            });
        }
        Err(Error::new(format!(
            "profile {:?} has no credential: set mgmt_token, [profile.auth.token] token_file or \
             [profile.auth.oauth2], or pass --token (INFLUXCTL_TOKEN)",
            clean(&profile.name)
        )))
    }
}

/// A token file: the token alone, or JSON with `access_token` (or `token`, `accessToken`).
fn read_token_file(path: &Path) -> Result<Secret, Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::new(format!("cannot read token_file {}: {e}", path.display())))?;
    let text = text.trim();
    let token = if text.starts_with('{') {
        let value: Value = serde_json::from_str(text).map_err(|e| {
            Error::new(format!(
                "token_file {} is not valid JSON: {e}",
                path.display()
            ))
        })?;
        ["access_token", "token", "accessToken"]
            .iter()
            .find_map(|k| value.get(*k).and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| {
                Error::new(format!(
                    "token_file {} has no access_token, token or accessToken",
                    path.display()
                ))
            })?
    } else {
        text.to_owned()
    };
    if token.trim().is_empty() {
        return Err(Error::new(format!(
            "token_file {} is empty",
            path.display()
        )));
    }
    Ok(Secret::new(token.trim().to_owned()))
}

// ---- what the server sends ----

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DbToken {
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    permissions: Vec<Permission>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    revoked_at: Option<String>,
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    cluster_id: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Permission {
    action: String,
    resource: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct MgmtToken {
    id: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    token_prefix: String,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    created_by: Option<String>,
    #[serde(default)]
    expires_at: Option<String>,
    #[serde(default)]
    revoked_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct User {
    id: String,
    #[serde(default)]
    first_name: String,
    #[serde(default)]
    last_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    groups: Vec<String>,
}

fn decode<T: for<'de> Deserialize<'de>>(body: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(body)
        .map_err(|e| Error::new(format!("unexpected {what} from the server: {e}")))
}

// ---- what influxctl prints as JSON (protobuf field names, Go's encoding) ----

/// A protobuf `Timestamp` as Go's encoding/json writes it: zero fields left out.
#[derive(Debug, Serialize)]
struct Timestamp {
    #[serde(skip_serializing_if = "is_zero_i64")]
    seconds: i64,
    #[serde(skip_serializing_if = "is_zero_i32")]
    nanos: i32,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

fn is_zero_i32(n: &i32) -> bool {
    *n == 0
}

fn timestamp(value: &Option<String>) -> Option<Timestamp> {
    let t = parse_rfc3339(value.as_deref()?)?;
    Some(Timestamp {
        seconds: t.unix_timestamp(),
        nanos: i32::try_from(t.nanosecond()).unwrap_or(0),
    })
}

#[derive(Debug, Serialize)]
struct TokenJson {
    account_id: String,
    cluster_id: String,
    id: String,
    description: String,
    permissions: Vec<PermissionJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Timestamp>,
}

#[derive(Debug, Serialize)]
struct PermissionJson {
    id: &'static str,
    action: String,
    resource: String,
}

impl TokenJson {
    fn new(t: DbToken, scope: &Scope) -> TokenJson {
        TokenJson {
            account_id: t.account_id.unwrap_or_else(|| scope.account_id.clone()),
            cluster_id: t.cluster_id.unwrap_or_else(|| scope.cluster_id.clone()),
            created_at: timestamp(&t.created_at),
            expires_at: timestamp(&t.expires_at),
            revoked_at: timestamp(&t.revoked_at),
            id: t.id,
            description: t.description,
            permissions: t
                .permissions
                .into_iter()
                .map(|p| PermissionJson {
                    id: NO_PERMISSION_ID,
                    action: p.action,
                    resource: p.resource,
                })
                .collect(),
        }
    }
}

#[derive(Debug, Serialize)]
struct ManagementJson {
    id: String,
    account_id: String,
    token_prefix: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    expires_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<Timestamp>,
    description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    created_by: Option<String>,
}

#[derive(Debug, Serialize)]
struct UserJson {
    id: String,
    first_name: String,
    last_name: String,
    email: String,
    groups: Vec<String>,
}

// ---- database tokens ----

fn permissions(read: &[String], write: &[String]) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for (action, dbs) in [("read", read), ("write", write)] {
        for db in dbs {
            let p = json!({"action": action, "resource": db});
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn shown_time(value: &Option<String>) -> String {
    value.as_deref().map(table_time).unwrap_or_default()
}

/// The create output of influxctl 2.11+: the key/value table on stdout, two warnings on
/// stderr, then the token alone on stdout. With `--format json`, the server's create answer.
fn print_created(body: &Value, format: Format, log: Log) -> Result<(), Error> {
    let token = body
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::new("the server's answer holds no accessToken"))?
        .to_owned();
    let text = |key: &str| body.get(key).and_then(Value::as_str).map(str::to_owned);
    match format {
        Format::Json => {
            print(&output::json(body)?)?;
            log.warn(WARN_COPY);
            log.warn(WARN_ONCE);
        }
        Format::Table => {
            print(&key_value(&[
                ("id", text("id").unwrap_or_default()),
                ("description", text("description").unwrap_or_default()),
                ("expires at", shown_time(&text("expiresAt"))),
                ("revoked at", shown_time(&text("revokedAt"))),
            ]))?;
            log.warn(WARN_COPY);
            log.warn(WARN_ONCE);
            print(&token)?;
        }
    }
    Ok(())
}

async fn token_create(api: &Api, scope: &Scope, args: TokenCreate) -> Result<(), Error> {
    let mut body = json!({
        "description": args.description,
        "permissions": permissions(&args.read, &args.write),
    });
    if let Some(at) = &args.expires_at {
        body["expiresAt"] = Value::String(parse::expires_at(at)?);
    }
    let reply = api
        .send(Method::POST, &scope.tokens(&[]), &[], Some(&body))
        .await?;
    print_created(&reply.body, args.format, api.log())
}

async fn token_list(api: &Api, scope: &Scope, args: TokenList) -> Result<(), Error> {
    let query: &[(&str, &str)] = if args.include_revoked {
        &[("include_revoked", "true")]
    } else {
        &[]
    };
    let reply = api
        .send(Method::GET, &scope.tokens(&[]), query, None)
        .await?;
    let mut tokens: Vec<DbToken> = decode(reply.body, "token list")?;
    match args.sort {
        TokenSort::Id => tokens.sort_by(|a, b| a.id.cmp(&b.id)),
        TokenSort::Description => tokens.sort_by(|a, b| {
            a.description
                .cmp(&b.description)
                .then_with(|| a.id.cmp(&b.id))
        }),
    }
    match args.format {
        Format::Json => {
            let out: Vec<TokenJson> = tokens
                .into_iter()
                .map(|t| TokenJson::new(t, scope))
                .collect();
            print(&output::json(&out)?)
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = tokens
                .into_iter()
                .map(|t| vec![t.id, t.description])
                .collect();
            print(&table(&["ID", "DESCRIPTION"], &rows))
        }
    }
}

fn permission_text(permissions: &[Permission]) -> String {
    permissions
        .iter()
        .map(|p| format!("{}:{}", p.action, p.resource))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_token(token: DbToken, scope: &Scope, format: Format) -> Result<(), Error> {
    match format {
        Format::Json => print(&output::json(&TokenJson::new(token, scope))?),
        Format::Table => print(&key_value(&[
            ("id", token.id.clone()),
            ("description", token.description.clone()),
            ("permissions", permission_text(&token.permissions)),
            ("created at", shown_time(&token.created_at)),
            ("expires at", shown_time(&token.expires_at)),
            ("revoked at", shown_time(&token.revoked_at)),
        ])),
    }
}

async fn token_get(api: &Api, scope: &Scope, args: TokenGet) -> Result<(), Error> {
    let query: &[(&str, &str)] = if args.include_revoked {
        &[("include_revoked", "true")]
    } else {
        &[]
    };
    let reply = api
        .send(Method::GET, &scope.tokens(&[&args.id]), query, None)
        .await?;
    print_token(decode(reply.body, "token")?, scope, args.format)
}

async fn token_update(api: &Api, scope: &Scope, args: TokenUpdate) -> Result<(), Error> {
    let mut body = serde_json::Map::new();
    if let Some(description) = &args.description {
        body.insert("description".into(), Value::String(description.clone()));
    }
    if !args.read.is_empty() || !args.write.is_empty() {
        body.insert(
            "permissions".into(),
            Value::Array(permissions(&args.read, &args.write)),
        );
    }
    if body.is_empty() {
        return Err(Error::new(
            "nothing to update: pass --read-database/--write-database or --description",
        ));
    }
    let reply = api
        .send(
            Method::PATCH,
            &scope.tokens(&[&args.id]),
            &[],
            Some(&Value::Object(body)),
        )
        .await?;
    print_token(decode(reply.body, "token")?, scope, args.format)
}

async fn token_rotate(api: &Api, _scope: &Scope, args: TokenRotate, log: Log) -> Result<(), Error> {
    if args.grace.subsec_nanos() != 0 {
        return Err(Error::new(format!(
            "--grace must be whole seconds, not {}",
            format_go_duration(args.grace)
        )));
    }
    let grace = args.grace.as_secs();
    let reply = api
        .send(
            Method::POST,
            &["api", "v0", "tokens", &args.id, "rotate"],
            &[],
            Some(&json!({"graceSeconds": grace})),
        )
        .await?;
    print_created(&reply.body, args.format, log)?;
    if grace == 0 {
        log.info(format_args!("the old token {} is revoked", clean(&args.id)));
    } else {
        log.info(format_args!(
            "the old token {} keeps working for {} at most",
            clean(&args.id),
            format_go_duration(args.grace)
        ));
    }
    Ok(())
}

// ---- revoking either kind ----

#[derive(Clone, Copy)]
enum Kind<'a> {
    Database(&'a Scope),
    Management,
}

impl Kind<'_> {
    fn name(&self) -> &'static str {
        match self {
            Kind::Database(_) => "database token",
            Kind::Management => "management token",
        }
    }
}

/// Asks on stderr, reads one line of stdin: only `y` or `yes` confirm.
fn confirm(question: &str) -> bool {
    eprint!("{question} [y/N]: ");
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => {
            eprintln!();
            false
        }
        Ok(_) => matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"),
    }
}

/// Revokes each id in turn, past failures; an error at the end when any was not revoked.
async fn revoke(api: &Api, kind: Kind<'_>, args: Revoke) -> Result<(), Error> {
    let mut not_revoked = 0usize;
    for id in &args.ids {
        let shown = clean(id);
        if !args.force
            && !confirm(&format!(
                "revoke {} {shown}? This cannot be undone.",
                kind.name()
            ))
        {
            eprintln!("{} {shown} not revoked", kind.name());
            not_revoked += 1;
            continue;
        }
        let path: Vec<&str> = match kind {
            Kind::Database(scope) => scope.tokens(&[id]),
            Kind::Management => vec!["api", "v0", "management-tokens", id],
        };
        match api.send(Method::DELETE, &path, &[], None).await {
            Ok(_) => print(&format!("revoked {} {shown}", kind.name()))?,
            Err(e) => {
                eprintln!("Error: {} {shown}: {e}", kind.name());
                not_revoked += 1;
            }
        }
    }
    if not_revoked > 0 {
        return Err(Error::new(format!(
            "{not_revoked} of {} {}s not revoked",
            args.ids.len(),
            kind.name()
        )));
    }
    Ok(())
}

// ---- management tokens ----

async fn management_create(api: &Api, args: ManagementCreate) -> Result<(), Error> {
    let description = match &args.description {
        Some(d) if d.trim().is_empty() => {
            return Err(Error::new("--description must not be empty"));
        }
        Some(d) => d.clone(),
        None => DEFAULT_MANAGEMENT_DESCRIPTION.to_owned(),
    };
    let mut body = json!({"description": description});
    if let Some(at) = &args.expires_at {
        body["expiresAt"] = Value::String(parse::expires_at(at)?);
    }
    let reply = api
        .send(
            Method::POST,
            &["api", "v0", "management-tokens"],
            &[],
            Some(&body),
        )
        .await?;
    print_created(&reply.body, args.format, api.log())
}

/// Go's zero time, which influxctl shows for a management token without expiry.
const NO_EXPIRY: &str = "1970-01-01T00:00:00Z";

async fn management_list(api: &Api, scope: &Scope, args: ManagementList) -> Result<(), Error> {
    let reply = api
        .send(Method::GET, &["api", "v0", "management-tokens"], &[], None)
        .await?;
    let mut tokens: Vec<MgmtToken> = decode(reply.body, "management token list")?;
    let instant = |v: &Option<String>| v.as_deref().and_then(parse_rfc3339);
    match args.sort {
        ManagementSort::Created => tokens.sort_by(|a, b| {
            instant(&a.created_at)
                .cmp(&instant(&b.created_at))
                .then_with(|| a.id.cmp(&b.id))
        }),
        ManagementSort::Id => tokens.sort_by(|a, b| a.id.cmp(&b.id)),
        ManagementSort::Description => tokens.sort_by(|a, b| {
            a.description
                .cmp(&b.description)
                .then_with(|| a.id.cmp(&b.id))
        }),
        ManagementSort::Prefix => tokens.sort_by(|a, b| {
            a.token_prefix
                .cmp(&b.token_prefix)
                .then_with(|| a.id.cmp(&b.id))
        }),
        ManagementSort::Expires => tokens.sort_by(|a, b| {
            instant(&a.expires_at)
                .cmp(&instant(&b.expires_at))
                .then_with(|| a.id.cmp(&b.id))
        }),
        ManagementSort::Revoked => tokens.sort_by(|a, b| {
            instant(&a.revoked_at)
                .cmp(&instant(&b.revoked_at))
                .then_with(|| a.id.cmp(&b.id))
        }),
    }
    match args.format {
        Format::Json => {
            let out: Vec<ManagementJson> = tokens
                .into_iter()
                .map(|t| ManagementJson {
                    account_id: scope.account_id.clone(),
                    token_prefix: t.token_prefix,
                    expires_at: timestamp(&t.expires_at),
                    revoked_at: timestamp(&t.revoked_at),
                    created_at: timestamp(&t.created_at),
                    description: t.description,
                    created_by: t.created_by,
                    id: t.id,
                })
                .collect();
            print(&output::json(&out)?)
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = tokens
                .into_iter()
                .map(|t| {
                    let expires = match &t.expires_at {
                        Some(_) => shown_time(&t.expires_at),
                        None => NO_EXPIRY.to_owned(),
                    };
                    vec![
                        t.id,
                        t.description,
                        t.token_prefix,
                        shown_time(&t.created_at),
                        expires,
                        shown_time(&t.revoked_at),
                    ]
                })
                .collect();
            print(&table(
                &[
                    "ID",
                    "DESCRIPTION",
                    "PREFIX",
                    "CREATED AT",
                    "EXPIRES AT",
                    "REVOKED AT",
                ],
                &rows,
            ))
        }
    }
}

// ---- users ----

async fn user_list(api: &Api, format: Format) -> Result<(), Error> {
    let reply = api
        .send(Method::GET, &["api", "v0", "users"], &[], None)
        .await?;
    let users: Vec<User> = decode(reply.body, "user list")?;
    match format {
        Format::Json => {
            let out: Vec<UserJson> = users
                .into_iter()
                .map(|u| UserJson {
                    id: u.id,
                    first_name: u.first_name,
                    last_name: u.last_name,
                    email: u.email,
                    groups: u.groups,
                })
                .collect();
            print(&output::json(&out)?)
        }
        Format::Table => {
            let rows: Vec<Vec<String>> = users
                .into_iter()
                .map(|u| {
                    vec![
                        u.id,
                        u.first_name,
                        u.last_name,
                        u.email,
                        u.groups.join(", "),
                    ]
                })
                .collect();
            print(&table(
                &["ID", "FIRST NAME", "LAST NAME", "EMAIL", "GROUPS"],
                &rows,
            ))
        }
    }
}
