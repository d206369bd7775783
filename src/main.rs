//! The `vigil` command line: parse, then call into the library.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// jemalloc, like redis-server: its small size classes keep per-key overhead low
/// (1M small keys: 140 MB RSS against 169 MB with the system allocator).
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "vigil",
    version,
    about = "Redis-compatible server, Sentinel-style supervisor and master discovery"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Redis-compatible replicating server: `vigil server [CONFIG] [--directive value ...]`.
    Server {
        /// An optional redis.conf path, then `--directive value ...` like redis-server.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Sentinel: `vigil sentinel sentinel.conf [--directive value ...]`.
    Sentinel {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
    /// Ask sentinels where the master (and replicas) of NAME are.
    Discover(vigil::discovery::cli::DiscoverArgs),
    /// Run a whole topology on loopback, fail it over and show what happened (the default).
    Demo(vigil::demo::DemoArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Server { args }) => vigil::server::main(args),
        Some(Command::Sentinel { args }) => vigil::sentinel::main(args),
        Some(Command::Discover(a)) => vigil::discovery::cli::main(a),
        Some(Command::Demo(a)) => vigil::demo::main(a),
        None => vigil::demo::main(vigil::demo::DemoArgs::default()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigil: {e}");
            ExitCode::FAILURE
        }
    }
}
