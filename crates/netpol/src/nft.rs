//! Applying rules: `nft -f -` with one transaction that replaces only our table, on the host
//! or inside a network namespace (for tests).

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

use crate::NetpolError;
use crate::render::FAMILY;

/// The transaction that atomically replaces our table by `ruleset` (the output of
/// [`crate::render`]): create it if missing, delete it, define it again. Other tables are
/// never named, so never touched; if any line fails, nothing changes.
pub fn transaction(table: &str, ruleset: &str) -> String {
    format!("table {FAMILY} {table}\ndelete table {FAMILY} {table}\n{ruleset}")
}

/// The transaction that removes our table whether or not it exists.
pub fn delete_transaction(table: &str) -> String {
    format!("table {FAMILY} {table}\ndelete table {FAMILY} {table}\n")
}

/// Whether `table` is usable as an nftables table name.
pub fn valid_table_name(table: &str) -> bool {
    let mut chars = table.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && table.len() <= 64
}

/// How to run `nft`: in our own network namespace, or inside a named one.
#[derive(Debug, Clone)]
pub struct Nft {
    command: Vec<String>,
}

impl Nft {
    /// `nft` in the current network namespace.
    pub fn host() -> Self {
        Nft {
            command: vec!["nft".to_string()],
        }
    }

    /// `nft` inside network namespace `netns` (`ip netns exec NS nft`).
    pub fn in_netns(netns: &str) -> Self {
        Nft {
            command: ["ip", "netns", "exec", netns, "nft"]
                .map(String::from)
                .to_vec(),
        }
    }

    /// Replaces our table by `ruleset` in one transaction.
    pub async fn apply(&self, table: &str, ruleset: &str) -> Result<(), NetpolError> {
        self.run_file(table, &transaction(table, ruleset)).await
    }

    /// Runs `text` (e.g. from [`crate::set_update`]) as one transaction on our table.
    pub async fn run_transaction(&self, table: &str, text: &str) -> Result<(), NetpolError> {
        self.run_file(table, text).await
    }

    /// Deletes our table (a no-op if it does not exist).
    pub async fn delete_table(&self, table: &str) -> Result<(), NetpolError> {
        self.run_file(table, &delete_transaction(table)).await
    }

    /// `nft list table inet <table>`.
    pub async fn list_table(&self, table: &str) -> Result<String, NetpolError> {
        let output = self
            .command(&["list", "table", FAMILY, table])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| self.spawn_error(source))?;
        if !output.status.success() {
            return Err(NetpolError::NftApply {
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

    fn spawn_error(&self, source: std::io::Error) -> NetpolError {
        NetpolError::NftSpawn {
            program: self.command.join(" "),
            source,
        }
    }

    async fn run_file(&self, table: &str, text: &str) -> Result<(), NetpolError> {
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
            Err(NetpolError::NftApply {
                table: table.to_string(),
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    }
}
