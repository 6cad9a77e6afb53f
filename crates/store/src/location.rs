//! Where the store is: a SQLite file (a path) or a PostgreSQL database (a
//! `postgres://` URL), as given to `--store` or `store:` in a config file.
//!
//! The password of a PostgreSQL store never has to be written in the URL:
//! it comes from a file ([`Location::with_password_file`]) or the
//! environment variable [`PASSWORD_ENV`], and a location's `Display`
//! (what start-up lines and errors print) never shows it.

use crate::StoreError;
use std::fmt;
use std::path::{Path, PathBuf};

/// The environment variable a PostgreSQL store's password is read from
/// when neither the URL nor a password file gives one.
pub const PASSWORD_ENV: &str = "TENET_STORE_PASSWORD";

/// A store's location.
#[derive(Clone, PartialEq)]
pub enum Location {
    /// A SQLite file, created with its folder when missing.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(Box<PgLocation>),
}

/// A PostgreSQL database: the connection settings of the URL, the
/// password kept apart.
#[derive(Clone, PartialEq)]
pub struct PgLocation {
    /// The URL as given, without its password.
    pub(crate) url: String,
    pub(crate) config: tokio_postgres::Config,
}

impl Location {
    /// Parses `--store`: a `postgres://` or `postgresql://` URL, else a
    /// path. A URL that does not parse is an error naming what is wrong
    /// (never the password).
    pub fn parse(spec: &str) -> Result<Location, StoreError> {
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(StoreError::Location(
                "the store is empty: give a file path or a postgres:// URL".into(),
            ));
        }
        if !(spec.starts_with("postgres://") || spec.starts_with("postgresql://")) {
            if spec.contains("://") {
                return Err(StoreError::Location(format!(
                    "`{}` is neither a file path nor a postgres:// URL",
                    redact(spec)
                )));
            }
            return Ok(Location::Sqlite(PathBuf::from(spec)));
        }
        let config: tokio_postgres::Config = spec.parse().map_err(|e| {
            StoreError::Location(format!(
                "the store URL `{}` does not parse: {e}",
                redact(spec)
            ))
        })?;
        if config.get_dbname().is_none() {
            return Err(StoreError::Location(format!(
                "the store URL `{}` names no database (postgres://user@host:port/DATABASE)",
                redact(spec)
            )));
        }
        let mut loc = PgLocation {
            url: redact(spec),
            config,
        };
        if loc.config.get_password().is_none() {
            if let Ok(p) = std::env::var(PASSWORD_ENV) {
                loc.config.password(p.trim_end_matches(['\r', '\n']));
            }
        }
        Ok(Location::Postgres(Box::new(loc)))
    }

    /// Reads the password of a PostgreSQL store from `file` (one line; a
    /// trailing newline is dropped). An error for a SQLite store, which
    /// has no password, and for a file that cannot be read.
    pub fn with_password_file(mut self, file: &Path) -> Result<Location, StoreError> {
        let Location::Postgres(pg) = &mut self else {
            return Err(StoreError::Location(format!(
                "a password file ({}) is only for a postgres:// store",
                file.display()
            )));
        };
        let text = std::fs::read_to_string(file).map_err(|e| {
            StoreError::Location(format!(
                "cannot read the store password file {}: {e}",
                file.display()
            ))
        })?;
        pg.config.password(text.trim_end_matches(['\r', '\n']));
        Ok(self)
    }

    /// Sets the password of a PostgreSQL store (from an environment
    /// variable the config file names). An error for a SQLite store.
    pub fn with_password(mut self, password: &str) -> Result<Location, StoreError> {
        let Location::Postgres(pg) = &mut self else {
            return Err(StoreError::Location(
                "a password is only for a postgres:// store".into(),
            ));
        };
        pg.config.password(password);
        Ok(self)
    }

    /// A relative SQLite path resolved against `dir` (config files resolve
    /// their paths against their own folder).
    pub fn relative_to(self, dir: &Path) -> Location {
        match self {
            Location::Sqlite(p) if p.is_relative() => Location::Sqlite(dir.join(p)),
            other => other,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            Location::Sqlite(_) => "sqlite",
            Location::Postgres(_) => "postgres",
        }
    }
}

impl Default for Location {
    fn default() -> Self {
        Location::Sqlite(PathBuf::from(crate::DEFAULT_PATH))
    }
}

impl From<&Path> for Location {
    fn from(p: &Path) -> Self {
        Location::Sqlite(p.to_path_buf())
    }
}

impl From<PathBuf> for Location {
    fn from(p: PathBuf) -> Self {
        Location::Sqlite(p)
    }
}

/// The path or the URL, without a password.
impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(pg) => f.write_str(&pg.url),
        }
    }
}

/// Like `Display`: a password never reaches a log through `{:?}` either.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({}: {self})", self.backend())
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`; also
/// a `password=` query parameter.
fn redact(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let from = rest_start + colon + 1;
                let to = rest_start + at;
                out.replace_range(from..to, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let query: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{head}{}", query.join("&"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    #[test]
    fn a_path_is_sqlite_and_a_url_is_postgres() {
        assert_eq!(
            Location::parse(".tenet/tenet.db").unwrap(),
            Location::Sqlite(PathBuf::from(".tenet/tenet.db"))
        );
        let pg = Location::parse("postgres://tenet@127.0.0.1:5432/tenet").unwrap();
        assert_eq!(pg.backend(), "postgres");
        assert_eq!(pg.to_string(), "postgres://tenet@127.0.0.1:5432/tenet");
    }

    #[test]
    fn a_password_is_never_displayed() {
        for url in [
            "postgres://tenet:s3cret@db:5432/tenet",
            "postgresql://tenet@db/tenet?password=s3cret&sslmode=disable",
        ] {
            let loc = Location::parse(url).unwrap();
            let shown = format!("{loc} {loc:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
            assert!(shown.contains("***"), "{shown}");
        }
        let err = Location::parse("postgres://tenet:s3cret@db:notaport/tenet")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
        assert!(err.contains("does not parse"), "{err}");
    }

    #[test]
    fn bad_locations_say_what_is_wrong() {
        let e = Location::parse("").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let e = Location::parse("mysql://db/x").unwrap_err().to_string();
        assert!(
            e.contains("neither a file path nor a postgres:// URL"),
            "{e}"
        );
        let e = Location::parse("postgres://db:5432")
            .unwrap_err()
            .to_string();
        assert!(e.contains("names no database"), "{e}");
        let e = Location::parse("a.db")
            .unwrap()
            .with_password_file(Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("only for a postgres:// store"), "{e}");
        let e = Location::parse("postgres://u@db/x")
            .unwrap()
            .with_password_file(Path::new("/nonexistent/pw"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read the store password file /nonexistent/pw"),
            "{e}"
        );
    }

    #[test]
    fn a_password_file_gives_the_password_without_its_newline() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "hunter2\n").unwrap();
        let Location::Postgres(pg) = Location::parse("postgres://u@db/x")
            .unwrap()
            .with_password_file(&file)
            .unwrap()
        else {
            panic!("postgres");
        };
        assert_eq!(pg.config.get_password(), Some(&b"hunter2"[..]));
    }
}
