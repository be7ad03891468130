//! `gantry image import FILE.tar...`: imports image archives (OCI layout or Docker save format)
//! into a node's containerd, where pods find them without any registry.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};

#[derive(Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Import image archives into the node's containerd.
    Import {
        /// Archives to import.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The agent's data dir (its containerd socket is DATA/containerd/containerd.sock).
        #[arg(long, default_value = "/var/lib/gantry/agent")]
        data_dir: PathBuf,
        /// Import into the containerd at this socket instead.
        #[arg(long)]
        container_runtime_endpoint: Option<String>,
    },
}

pub fn run(args: ImageArgs) -> anyhow::Result<()> {
    let ImageCommand::Import { files, data_dir, container_runtime_endpoint } = args.command;
    let socket = match container_runtime_endpoint {
        Some(e) => gantry_cri::client::socket_path(&e),
        None => data_dir.join("containerd/containerd.sock"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    runtime.block_on(async {
        for file in &files {
            gantry_cri::import::import_file(&socket, file).await.with_context(|| format!("importing {}", file.display()))?;
            eprintln!("imported {}", file.display());
        }
        Ok(())
    })
}
