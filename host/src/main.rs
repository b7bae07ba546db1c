//! The `hammer` binary: parse the command line, run the command, and turn an
//! error into a one-paragraph message and exit code 1.

use clap::Parser;

fn main() {
    let cli = hammer::cli::Cli::parse();
    if let Err(err) = hammer::cli::run(cli) {
        eprintln!("error: {err:#}");
        std::process::exit(1);
    }
}
