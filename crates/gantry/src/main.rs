//! The `gantry` binary: parses the command line and dispatches to one subcommand.

mod cli;

use clap::Parser;

/// mimalloc instead of glibc's malloc: the API server allocates and frees many small JSON
/// values per request; under glibc a fifth of its CPU went to malloc/free and its heap kept
/// fragments (see README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    cli::init_logging();
    cli.run()
}
