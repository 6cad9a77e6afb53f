//! Where the store is: a SQLite file (a path) or a PostgreSQL database (a
//! `postgres://` URL), as given to `--store` or `store:` in a config file.
//!
//! The password of a PostgreSQL store never has to be written in the URL:
//! it comes from a file ([`Location::with_password_file`]) or the
//! environment variable [`PASSWORD_ENV`], and a location's `Display`
//! (what start-up lines and errors print) never shows it.

use crate::tls::{Mode, PgTls};
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
    /// What is shown: built from the parsed settings (user, hosts, ports,
    /// database), so no spelling of a password can reach it.
    pub(crate) url: String,
    pub(crate) config: tokio_postgres::Config,
    /// TLS to the server: the URL's `sslmode`, `sslrootcert`, `sslcert`
    /// and `sslkey` (see [`crate::tls`]).
    pub(crate) tls: PgTls,
    /// The URL as given, password and all: only for handing the same
    /// store to a child process (tests); never displayed.
    pub(crate) raw: String,
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
            // A libpq `key=value` string is not a file name (and would put
            // its password into one).
            let words: Vec<&str> = spec.split_whitespace().collect();
            if words.iter().any(|w| {
                ["host=", "dbname=", "user=", "password=", "port="]
                    .iter()
                    .any(|k| w.starts_with(k))
            }) {
                return Err(StoreError::Location(
                    "the store looks like a libpq `key=value` string: give a postgres:// URL \
                     (postgres://user@host:port/database) or a file path"
                        .into(),
                ));
            }
            return Ok(Location::Sqlite(PathBuf::from(spec)));
        }
        let (tls, rest) = PgTls::split(spec)?;
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e| {
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
        config.ssl_mode(tls.mode.ssl_mode());
        let mut url = describe(&config);
        if tls.mode != Mode::default() {
            url = format!("{url}?sslmode={}", tls.mode.as_str());
        }
        let mut loc = PgLocation {
            url,
            config,
            tls,
            raw: spec.to_string(),
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

/// For errors about a URL that did not parse: the scheme and what follows
/// the last `@` up to any `?` (credentials and query parameters, where a
/// password can be, are left out whatever characters they hold).
fn redact(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let rest = rest.split('?').next().unwrap_or("");
    match rest.rfind('@') {
        Some(at) => format!("{scheme}://…@{}", &rest[at + 1..]),
        None => format!("{scheme}://{rest}"),
    }
}

/// `postgres://user@host:port,host2:port2/db`, from the parsed settings.
fn describe(c: &tokio_postgres::Config) -> String {
    let user = c.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let ports = c.get_ports();
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                #[cfg(unix)]
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            };
            match ports.get(i).or_else(|| ports.first()) {
                Some(p) => format!("{host}:{p}"),
                None => host,
            }
        })
        .collect();
    format!(
        "postgres://{user}{}/{}",
        hosts.join(","),
        c.get_dbname().unwrap_or_default()
    )
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
            "postgres://tenet:s3/c?ret@db:5432/tenet",
            "postgres://tenet:s3%2Fcret@db:5432/tenet",
            "postgresql://tenet@db:5432/tenet?password=s3cret&sslmode=disable",
            "postgresql://tenet@db:5432/tenet?pass%77ord=s3cret",
        ] {
            let Ok(loc) = Location::parse(url) else {
                continue; // refused: then only the error may not show it
            };
            let shown = format!("{loc} {loc:?}");
            assert!(!shown.contains("s3"), "{url}: {shown}");
            assert!(shown.contains("postgres://tenet@db:5432/tenet"), "{shown}");
        }
        for url in [
            "postgres://tenet:s3cret@db:notaport/tenet",
            "postgres://tenet:s3/c@ret@db:notaport/tenet",
            "postgres://tenet@db:notaport/tenet?password=s3cret",
        ] {
            let err = Location::parse(url).unwrap_err().to_string();
            assert!(!err.contains("s3"), "{err}");
            assert!(err.contains("does not parse"), "{err}");
        }
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
