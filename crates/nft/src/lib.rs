//! Running `nft` for components that each own one nftables table (the service proxy, network
//! policy): a whole file fed to `nft -f -` is one transaction, so a table is replaced
//! atomically, and a component never names, so never touches, any other table.

use std::process::Stdio;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// What went wrong running `nft`.
#[derive(Debug, thiserror::Error)]
pub enum NftError {
    #[error("running {program}: {source}")]
    Spawn {
        program: String,
        source: std::io::Error,
    },
    #[error("nft refused the transaction: {stderr}")]
    Failed { stderr: String },
}

/// The transaction that atomically replaces table `<family> <table>` by `ruleset` (which
/// defines it): create it if missing, delete it, define it again; if any line fails, nothing
/// changes.
pub fn replace_transaction(family: &str, table: &str, ruleset: &str) -> String {
    format!("table {family} {table}\ndelete table {family} {table}\n{ruleset}")
}

/// The transaction that removes a table whether or not it exists.
pub fn delete_transaction(family: &str, table: &str) -> String {
    format!("table {family} {table}\ndelete table {family} {table}\n")
}

/// Whether `table` is usable as an nftables table name.
pub fn valid_table_name(table: &str) -> bool {
    let mut chars = table.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        && table.len() <= 64
}

/// The table a component owns on one node: `<component>_<node>` with the node name reduced to
/// letters, digits and `_` (several nodes may share a network namespace, each with its tables).
pub fn node_table(component: &str, node: &str) -> String {
    let clean: String = node
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{component}_{clean}")
}

/// How to run `nft`: in the current network namespace, or inside a named one.
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

    /// `nft` inside network namespace `netns` (`ip netns exec NS nft`), for tests.
    pub fn in_netns(netns: &str) -> Self {
        Nft {
            command: ["ip", "netns", "exec", netns, "nft"]
                .map(String::from)
                .to_vec(),
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.command[0]);
        cmd.args(&self.command[1..]).args(args).kill_on_drop(true);
        cmd
    }

    fn spawn_error(&self, source: std::io::Error) -> NftError {
        NftError::Spawn {
            program: self.command.join(" "),
            source,
        }
    }

    /// Runs `text` as one transaction (`nft -f -`).
    pub async fn run(&self, text: &str) -> Result<(), NftError> {
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
            Err(NftError::Failed {
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            })
        }
    }

    /// `nft list table <family> <table>`.
    pub async fn list_table(&self, family: &str, table: &str) -> Result<String, NftError> {
        let output = self
            .command(&["list", "table", family, table])
            .stdin(Stdio::null())
            .output()
            .await
            .map_err(|source| self.spawn_error(source))?;
        if !output.status.success() {
            return Err(NftError::Failed {
                stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
            });
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transactions_name_only_our_table() {
        assert_eq!(
            replace_transaction("ip", "t", "table ip t {}\n"),
            "table ip t\ndelete table ip t\ntable ip t {}\n"
        );
        assert_eq!(
            delete_transaction("inet", "t"),
            "table inet t\ndelete table inet t\n"
        );
        assert_eq!(
            node_table("gantry_svc", "node-1.local"),
            "gantry_svc_node_1_local"
        );
        for (name, ok) in [
            ("gantry_svc_n1", true),
            ("a-b", true),
            ("1abc", false),
            ("", false),
            ("a b", false),
        ] {
            assert_eq!(valid_table_name(name), ok, "{name:?}");
        }
    }
}
