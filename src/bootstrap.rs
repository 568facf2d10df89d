//! First start: mint the operator management token and hand it over through a 0600 file.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::token::service::TokenService;

pub const OPERATOR_TOKEN_FILE: &str = "operator-token";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(
        "{0} already exists but the store has no operator token; move the stale file away and start again"
    )]
    StaleFile(PathBuf),
    #[error("cannot write {path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot mint the operator token: {0}")]
    Service(#[from] Error),
}

#[derive(Debug, PartialEq, Eq)]
pub enum Bootstrap {
    /// This process minted the operator token into this file.
    Minted(PathBuf),
    /// The store already had one (minted earlier or by another replica).
    AlreadyDone,
}

/// Mints the operator token if the store never had one. With several replicas starting
/// together, the store's unique index lets exactly one of them mint it.
pub async fn ensure_operator_token(
    tokens: &TokenService,
    data_dir: &Path,
) -> Result<Bootstrap, BootstrapError> {
    if tokens.has_operator_token().await? {
        return Ok(Bootstrap::AlreadyDone);
    }
    let path = data_dir.join(OPERATOR_TOKEN_FILE);
    let file_error = |source| BootstrapError::File {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(file_error)?;
    // Created exclusively before the token exists, so a token is never minted with nowhere to go.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BootstrapError::StaleFile(path));
        }
        Err(e) => return Err(file_error(e)),
    };
    match tokens.bootstrap_operator().await {
        Ok(Some(minted)) => {
            file.write_all(format!("{}\n", minted.plain).as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(file_error)?;
            tracing::info!(path = %path.display(), token_id = %minted.id, "operator token written");
            Ok(Bootstrap::Minted(path))
        }
        Ok(None) => {
            drop(file);
            let _ = std::fs::remove_file(&path);
            tracing::info!("operator token already minted by another replica");
            Ok(Bootstrap::AlreadyDone)
        }
        Err(e) => {
            drop(file);
            let _ = std::fs::remove_file(&path);
            Err(e.into())
        }
    }
}

/// An exclusive lock on a file beside `path` (`<path>.lock`), held until the file is dropped:
/// processes that rewrite `path` take turns.
pub fn lock_beside(path: &Path) -> Result<std::fs::File, BootstrapError> {
    let lock = path.with_extension("lock");
    let file_error = |source| BootstrapError::File {
        path: lock.clone(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&lock)
        .map_err(file_error)?;
    file.lock().map_err(file_error)?;
    Ok(file)
}

/// Replaces the token in `path` atomically (a 0600 file beside it, synced, then renamed over
/// it), so a reader sees the old token or the new one, never a torn or world-readable file.
pub fn replace_token_file(path: &Path, token: &str) -> Result<(), BootstrapError> {
    let file_error = |source| BootstrapError::File {
        path: path.to_path_buf(),
        source,
    };
    let staged = path.with_extension("new");
    let _ = std::fs::remove_file(&staged);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&staged)
        .map_err(file_error)?;
    let written = file
        .write_all(format!("{token}\n").as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| std::fs::rename(&staged, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&staged);
        return Err(file_error(e));
    }
    if let Some(dir) = path.parent() {
        // The rename itself survives a crash once the directory is synced.
        let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}
