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
    /// Build a busybox image archive from the host's static busybox (for tests and air-gapped use).
    Busybox {
        /// The archive to write.
        output: PathBuf,
        /// The image's name.
        #[arg(long, default_value = "gantry.local/busybox:latest")]
        name: String,
        /// The static busybox binary.
        #[arg(long, default_value = "/bin/busybox")]
        busybox: PathBuf,
    },
}

fn busybox(output: &std::path::Path, name: &str, busybox: &std::path::Path) -> anyhow::Result<()> {
    let spec = gantry_cri::oci::ImageSpec {
        name: name.to_string(),
        entries: gantry_cri::oci::busybox_entries(busybox)?,
        cmd: vec!["sh".into()],
        env: vec!["PATH=/usr/sbin:/usr/bin:/sbin:/bin".into()],
        ..Default::default()
    };
    let bytes = gantry_cri::oci::build_archive(&spec)?;
    std::fs::write(output, bytes).with_context(|| format!("writing {}", output.display()))?;
    eprintln!("wrote {name} to {}", output.display());
    Ok(())
}

pub fn run(args: ImageArgs) -> anyhow::Result<()> {
    let (files, data_dir, container_runtime_endpoint) = match args.command {
        ImageCommand::Busybox {
            output,
            name,
            busybox: bin,
        } => return busybox(&output, &name, &bin),
        ImageCommand::Import {
            files,
            data_dir,
            container_runtime_endpoint,
        } => (files, data_dir, container_runtime_endpoint),
    };
    let socket = match container_runtime_endpoint {
        Some(e) => gantry_cri::client::socket_path(&e),
        None => data_dir.join("containerd/containerd.sock"),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        for file in &files {
            gantry_cri::import::import_file(&socket, file)
                .await
                .with_context(|| format!("importing {}", file.display()))?;
            eprintln!("imported {}", file.display());
        }
        Ok(())
    })
}
