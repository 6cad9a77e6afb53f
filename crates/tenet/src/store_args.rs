//! `--store` and `--store-password-file`, as every command that keeps
//! something takes them.

use std::path::PathBuf;
use tenet_store::{Location, StoreError};

/// Where a command keeps what it keeps.
#[derive(clap::Args, Clone, Debug)]
pub struct StoreArgs {
    /// The store: a SQLite file, or a postgres:// URL (its password from TENET_STORE_PASSWORD or --store-password-file, never in logs)
    #[arg(long, value_name = "PATH|URL", default_value = tenet_store::DEFAULT_PATH)]
    pub store: String,
    /// A file holding the PostgreSQL store's password
    #[arg(long, value_name = "FILE")]
    pub store_password_file: Option<PathBuf>,
}

impl StoreArgs {
    /// The parsed location (with the password file read).
    pub fn location(&self) -> Result<Location, StoreError> {
        location(&self.store, self.store_password_file.as_deref())
    }
}

/// Parses a `--store` value and applies a password file.
pub fn location(
    spec: &str,
    password_file: Option<&std::path::Path>,
) -> Result<Location, StoreError> {
    let loc = Location::parse(spec)?;
    match password_file {
        Some(f) => loc.with_password_file(f),
        None => Ok(loc),
    }
}
