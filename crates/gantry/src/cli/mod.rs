//! The command line: one file per subcommand.

mod agent;
mod components;
mod controller_manager;
mod down;
mod image;
mod kubeconfig;
mod scheduler;
mod server;
mod sim;
mod up;
mod up_nodes;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "gantry",
    version,
    about = "A lightweight Kubernetes in one binary"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start a complete single-node cluster on this machine (control plane + agent).
    Up(up::UpArgs),
    /// Stop the cluster `gantry up` started and remove what it created on the host.
    Down(down::DownArgs),
    /// Run a worker node: containerd, kubelet and the kubelet API.
    Agent(agent::AgentArgs),
    /// Manage a node's images.
    Image(image::ImageArgs),
    /// Run the control plane: API server and embedded store.
    Server(server::ServerArgs),
    /// Simulate nodes that run pods without containers (like KWOK).
    Sim(sim::SimArgs),
    /// Run the controllers (replica sets, deployments, jobs, garbage collection, ...).
    ControllerManager(controller_manager::ControllerManagerArgs),
    /// Run the scheduler: place pending pods on nodes.
    Scheduler(scheduler::SchedulerArgs),
}

impl Cli {
    /// Whether this process is a node agent (`gantry agent`, or `gantry up`, whose node shares
    /// the process with a small cluster's control plane): memory matters more than peak speed.
    pub fn is_node_agent(&self) -> bool {
        matches!(self.command, Command::Agent(_) | Command::Up(_))
    }

    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Up(args) => up::run(args),
            Command::Down(args) => down::run(args),
            Command::Agent(args) => agent::run(args),
            Command::Image(args) => image::run(args),
            Command::Server(args) => server::run(args),
            Command::Sim(args) => sim::run(args),
            Command::ControllerManager(args) => controller_manager::run(args),
            Command::Scheduler(args) => scheduler::run(args),
        }
    }
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GANTRY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(
            std::env::var_os("NO_COLOR").is_none()
                && std::io::IsTerminal::is_terminal(&std::io::stderr()),
        )
        .with_writer(std::io::stderr)
        .init();
}
