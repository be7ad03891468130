//! The pod network between nodes, host-gw style: every node routes each other node's podCIDR
//! via that node's InternalIP (kept current from the Node objects), and masquerades pod traffic
//! that leaves the cluster CIDR. Also the machinery that puts nodes in network namespaces on
//! one machine, bridged together, so traffic between nodes really crosses a network.

pub mod routes;
pub mod topology;

/// What can go wrong programming the network.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("run {command}: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
    #[error("{command} failed: {stderr}")]
    Command { command: String, stderr: String },
    #[error("invalid {what}: {value}")]
    Invalid { what: &'static str, value: String },
}

/// Runs a command (e.g. `ip`, `nft`), optionally feeding `stdin`; fails with its stderr.
pub async fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, NetError> {
    use tokio::io::AsyncWriteExt;
    let command = format!("{program} {}", args.join(" "));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        })
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|source| NetError::Spawn {
            command: command.clone(),
            source,
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|source| NetError::Spawn {
                command: command.clone(),
                source,
            })?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|source| NetError::Spawn {
            command: command.clone(),
            source,
        })?;
    if !out.status.success() {
        return Err(NetError::Command {
            command,
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).to_string())
}
