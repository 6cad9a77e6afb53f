//! `tenet serve`: the evaluation server (first slice of issue #5). Glue
//! only: the server is `tenet-server`.

use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use tenet_server::{Config, RulesSource};

#[derive(Args)]
pub struct ServeArgs {
    /// Rules directory (default: the rules bundled into this binary)
    #[arg(long)]
    rules: Option<PathBuf>,
    /// SQLite store for the audit log
    #[arg(long, default_value = ".tenet/tenet.db")]
    store: PathBuf,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
}

pub fn cmd_serve(args: &ServeArgs) -> u8 {
    let config = Config {
        rules: match &args.rules {
            Some(d) => RulesSource::Dir(d.clone()),
            None => RulesSource::Bundled,
        },
        store: args.store.clone(),
        addr: args.addr,
    };
    match tenet_server::run(config) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
