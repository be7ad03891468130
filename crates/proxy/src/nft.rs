//! Applying rules: `nft -f -` with one transaction that replaces only our table.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::ProxyError;

/// The transaction that atomically replaces table `ip <table>` by `ruleset` (the output of
/// [`crate::ruleset`]): create it if missing, delete it, define it again. Other tables are
/// never named, so never touched; if any line fails, nothing changes.
pub fn transaction(table: &str, ruleset: &str) -> String {
    format!("table ip {table}\ndelete table ip {table}\n{ruleset}")
}

/// The transaction that removes our table whether or not it exists.
pub fn delete_transaction(table: &str) -> String {
    format!("table ip {table}\ndelete table ip {table}\n")
}

/// How to run `nft`: on the host, or inside a network namespace (`ip netns exec NS nft`).
#[derive(Debug, Clone)]
pub struct Nft {
    command: Vec<String>,
}

impl Nft {
    /// `nft` in the proxy's own network namespace.
    pub fn host() -> Self {
        Nft {
            command: vec!["nft".to_string()],
        }
    }

    /// `nft` inside the named network namespace (for tests).
    pub fn in_netns(netns: &str) -> Self {
        Nft {
            command: ["ip", "netns", "exec", netns, "nft"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Replaces table `ip <table>` by `ruleset` in one transaction.
    pub async fn apply(&self, table: &str, ruleset: &str) -> Result<(), ProxyError> {
        self.run_file(table, &transaction(table, ruleset)).await
    }

    /// Turns our table, last programmed with `previous`, into `next` in place, keeping the
    /// ClientIP affinity sets' entries (see [`crate::update`]).
    pub async fn update(&self, table: &str, previous: &str, next: &str) -> Result<(), ProxyError> {
        let text = crate::update::update_transaction(table, previous, next);
        self.run_file(table, &text).await
    }

    /// Deletes table `ip <table>` (a no-op if it does not exist).
    pub async fn delete_table(&self, table: &str) -> Result<(), ProxyError> {
        self.run_file(table, &delete_transaction(table)).await
    }

    /// `nft list table ip <table>`.
    pub async fn list_table(&self, table: &str) -> Result<String, ProxyError> {
        let output = self
            .command(&["list", "table", "ip", table])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| self.spawn_error(source))?;
        if !output.status.success() {
            return Err(ProxyError::NftApply {
                table: table.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.command[0]);
        cmd.args(&self.command[1..]).args(args).kill_on_drop(true);
        cmd
    }

    fn spawn_error(&self, source: std::io::Error) -> ProxyError {
        ProxyError::NftSpawn {
            program: self.command.join(" "),
            source,
        }
    }

    async fn run_file(&self, table: &str, text: &str) -> Result<(), ProxyError> {
        let mut child = self
            .command(&["-f", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| self.spawn_error(source))?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(text.as_bytes())
                .await
                .map_err(|source| self.spawn_error(source))?;
            // Dropping stdin closes it so nft sees the end of the file.
        }
        let output = child
            .wait_with_output()
            .await
            .map_err(|source| self.spawn_error(source))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(ProxyError::NftApply {
                table: table.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    }
}
