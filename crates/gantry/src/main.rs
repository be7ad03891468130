//! The `gantry` binary: parses the command line and dispatches to one subcommand.

mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    cli::init_logging();
    cli.run()
}
