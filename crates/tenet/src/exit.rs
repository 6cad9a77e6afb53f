//! Exit codes ([`tenet_runtime::exit`] defines them for every front end)
//! and standard output that ends the process quietly once nobody reads it.
//!
//! Rust ignores `SIGPIPE`, so a write to a closed pipe (`tenet eval ... |
//! head`) is an error, which `println!` turns into a panic. Every line the
//! binary prints goes through [`out!`]/[`outln!`] instead: on a closed pipe
//! the process ends at once with [`OK`] and says nothing, as ripgrep does
//! (the reader has all it wanted). `tenet ci` and the pre-commit hook write
//! through their own writers, which drop what cannot be written and still
//! exit with their verdict.

use std::io::Write;
pub use tenet_runtime::exit::{ERROR, FINDINGS, OK};

/// Writes to standard output, ending the process when that fails: quietly
/// with [`OK`] on a closed pipe, with [`ERROR`] and a message otherwise.
pub fn write_stdout(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(OK.into());
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(ERROR.into());
    }
}

/// `print!` that ends the process quietly on a closed pipe.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::exit::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` that ends the process quietly on a closed pipe.
macro_rules! outln {
    () => {
        $crate::exit::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::exit::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}
