//! The `gantry` binary: parses the command line and dispatches to one subcommand.

mod allocator;
mod cli;

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    if cli.is_node_agent() {
        // May restart the process (same arguments) with the allocator's small-memory settings.
        allocator::keep_small();
    }
    cli::init_logging();
    cli.run()
}
