//! `tenet serve`: the evaluation server, and `tenet serve hash-token`.
//! Glue only: the server is `tenet-server`.

use crate::exit;
use clap::{Args, Subcommand};
use std::io::Read;
use std::net::SocketAddr;
use std::path::PathBuf;
use tenet_server::config::ClientAuth;
use tenet_server::{Config, LogFormat, Overrides};
use tenet_store::Location;

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ServeArgs {
    #[command(subcommand)]
    command: Option<ServeCommand>,
    /// Config file (YAML): addr, rules, store, watch, log_format, tls,
    /// limits, access, identities (see docs/server.md); flags win over it
    #[arg(long)]
    config: Option<PathBuf>,
    /// Rules directory (default: the rules bundled into this binary)
    #[arg(long)]
    rules: Option<PathBuf>,
    /// The audit log's store: a SQLite file or a postgres:// URL shared by replicas [default: .tenet/tenet.db]
    #[arg(long, value_name = "PATH|URL")]
    store: Option<String>,
    /// A file holding the PostgreSQL store's password (else TENET_STORE_PASSWORD)
    #[arg(long, value_name = "FILE")]
    store_password_file: Option<PathBuf>,
    /// This replica's name in /v1/health, /metrics and sweep leases [default: host-pid]
    #[arg(long)]
    replica: Option<String>,
    /// Address to listen on [default: 127.0.0.1:8080]
    #[arg(long)]
    addr: Option<SocketAddr>,
    /// Log format: text or json
    #[arg(long, value_parser = ["text", "json"])]
    log_format: Option<String>,
    /// Do not reload when a rule file changes (SIGHUP and the API still do)
    #[arg(long)]
    no_watch: bool,
    /// Serve HTTPS with this certificate chain (PEM; with --tls-key)
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// The TLS certificate's private key (PEM: PKCS#8, PKCS#1 or SEC1)
    #[arg(long, value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Verify client certificates against this CA bundle (PEM); identities
    /// name theirs with `client_san`
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Whether every client must present a certificate [default: required]
    #[arg(long, value_parser = ["required", "optional"])]
    client_auth: Option<String>,
}

#[derive(Subcommand)]
enum ServeCommand {
    /// Print the SHA-256 of a token read from stdin, for `token_sha256` in
    /// the config file
    HashToken,
}

pub fn cmd_serve(args: &ServeArgs) -> u8 {
    if let Some(ServeCommand::HashToken) = args.command {
        let mut token = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut token) {
            eprintln!("error: cannot read the token from stdin: {e}");
            return exit::ERROR;
        }
        if token.trim().is_empty() {
            eprintln!("error: no token on stdin (echo -n \"$TOKEN\" | tenet serve hash-token)");
            return exit::ERROR;
        }
        outln!("{}", tenet_server::config::hash_token(&token));
        return exit::OK;
    }
    let store = match args.store.as_deref().map(Location::parse).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    let overrides = Overrides {
        rules: args.rules.clone(),
        store,
        store_password_file: args.store_password_file.clone(),
        replica: args.replica.clone(),
        addr: args.addr,
        log_format: args.log_format.as_deref().map(|f| match f {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        }),
        no_watch: args.no_watch,
        tls_cert: args.tls_cert.clone(),
        tls_key: args.tls_key.clone(),
        client_ca: args.client_ca.clone(),
        client_auth: args.client_auth.as_deref().map(|a| match a {
            "optional" => ClientAuth::Optional,
            _ => ClientAuth::Required,
        }),
    };
    let config = match Config::resolve(args.config.as_deref(), &overrides) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return exit::ERROR;
        }
    };
    match tenet_server::run(config) {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("error: {e}");
            exit::ERROR
        }
    }
}
