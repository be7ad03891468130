//! `gantry-bench`: boots a real `gantry server` and measures it over HTTPS with the admin
//! client certificate: time to ready, pod creates/s at 1/16/64 clients, gets/s, full and
//! paginated list latency over 10,000 pods, watch delivery latency with 100 watchers, and
//! server RSS. Prints a table (and writes it as markdown with `--out`), each figure held to
//! its target where it has one.

mod client;
mod create;
mod get;
mod kubeconfig;
mod latency;
mod list;
mod load;
mod machine;
mod network;
mod node;
mod pod;
mod report;
mod run;
mod scheduling;
mod server;
mod watch;

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;

use crate::client::Protocol;

#[derive(Parser, Debug)]
#[command(
    name = "gantry-bench",
    version,
    about = "Benchmark a real gantry server"
)]
pub struct Args {
    /// The gantry binary to benchmark.
    #[arg(long)]
    pub gantry: PathBuf,
    /// Also write the results as a markdown file.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// HTTP version the clients speak.
    #[arg(long, value_enum, default_value_t = Protocol::H1)]
    pub protocol: Protocol,
    /// With `--protocol h2`: connections the concurrent clients share.
    #[arg(long, default_value_t = 4)]
    pub h2_connections: usize,
    /// Pods stored in `bench` after the create scenarios (the list size).
    #[arg(long, default_value_t = 10_000)]
    pub pods: usize,
    /// Creates with 1 client.
    #[arg(long, default_value_t = 500)]
    pub creates_1: usize,
    /// Creates with 16 clients.
    #[arg(long, default_value_t = 2_000)]
    pub creates_16: usize,
    /// Gets with 64 clients.
    #[arg(long, default_value_t = 20_000)]
    pub gets: usize,
    /// Repetitions of each list scenario.
    #[arg(long, default_value_t = 20)]
    pub list_repeats: usize,
    /// Page size of the paginated list.
    #[arg(long, default_value_t = 500)]
    pub page_size: usize,
    /// Concurrent watchers.
    #[arg(long, default_value_t = 100)]
    pub watchers: usize,
    /// Writes (half creates, half patches) observed by the watchers.
    #[arg(long, default_value_t = 2_000)]
    pub watch_writes: usize,
    /// What to measure: the API server alone, or scheduling onto simulated nodes.
    #[arg(long, value_enum, default_value_t = Scenario::Api)]
    pub scenario: Scenario,
    /// `--scenario scheduling`: simulated nodes (`gantry sim --nodes`).
    #[arg(long, default_value_t = 1_000)]
    pub sim_nodes: usize,
    /// `--scenario scheduling`: pods in total, spread over `--deployments`.
    #[arg(long, default_value_t = 10_000)]
    pub scheduling_pods: usize,
    /// `--scenario scheduling`: how many Deployments carry the pods.
    #[arg(long, default_value_t = 10)]
    pub deployments: usize,
    /// `--scenario scheduling`: run the scheduler and the controller manager as their own
    /// processes (`gantry scheduler`, `gantry controller-manager`) to see each one's CPU.
    #[arg(long)]
    pub split_control_plane: bool,
    /// `--scenario network`: concurrent HTTP workers per load run.
    #[arg(long, default_value_t = 8)]
    pub net_concurrency: usize,
    /// `--scenario network`: seconds of each HTTP and DNS load run.
    #[arg(long, default_value_t = 5)]
    pub net_seconds: u64,
    /// `--scenario network`: concurrent DNS sockets.
    #[arg(long, default_value_t = 8)]
    pub dns_sockets: usize,
}

/// The benchmark scenarios.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Creates, gets, lists and watches against the API server (the default).
    Api,
    /// 1,000 simulated nodes and 10,000 pods as Deployments: bound/s, create-to-Running.
    Scheduling,
    /// One real agent (containerd): pod create-to-Running, agent RSS and CPU.
    Node,
    /// One real agent: requests/s direct vs ClusterIP vs Ingress, Service change to rules in
    /// effect with 1,000 Services, DNS queries/s and latency.
    Network,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let command = std::env::args()
        .map(|a| shell_quote(&a))
        .collect::<Vec<_>>()
        .join(" ");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = match args.scenario {
        Scenario::Api => runtime.block_on(run::run(&args, command))?,
        Scenario::Scheduling => runtime.block_on(scheduling::run(&args, command))?,
        Scenario::Node => runtime.block_on(node::run(&args, command))?,
        Scenario::Network => runtime.block_on(network::run(&args, command))?,
    };
    if report.failures() > 0 {
        eprintln!("{} figure(s) missed their target", report.failures());
    }
    Ok(())
}

fn shell_quote(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,@".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
