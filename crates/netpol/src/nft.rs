//! Applying rules: `nft -f -` with one transaction that replaces only our table, on the host
//! or inside a network namespace (for tests), through gantry-nft (shared with the proxy).

use crate::NetpolError;
use crate::render::FAMILY;

pub use gantry_nft::valid_table_name;

/// The transaction that atomically replaces our table by `ruleset` (the output of
/// [`crate::render`]): create it if missing, delete it, define it again. Other tables are
/// never named, so never touched; if any line fails, nothing changes.
pub fn transaction(table: &str, ruleset: &str) -> String {
    gantry_nft::replace_transaction(FAMILY, table, ruleset)
}

/// The transaction that removes our table whether or not it exists.
pub fn delete_transaction(table: &str) -> String {
    gantry_nft::delete_transaction(FAMILY, table)
}

/// How to run `nft`: in our own network namespace, or inside a named one.
#[derive(Debug, Clone)]
pub struct Nft(gantry_nft::Nft);

fn error(table: &str, e: gantry_nft::NftError) -> NetpolError {
    match e {
        gantry_nft::NftError::Spawn { program, source } => {
            NetpolError::NftSpawn { program, source }
        }
        gantry_nft::NftError::Failed { stderr } => NetpolError::NftApply {
            table: table.to_string(),
            stderr,
        },
    }
}

impl Nft {
    /// `nft` in the current network namespace.
    pub fn host() -> Self {
        Nft(gantry_nft::Nft::host())
    }

    /// `nft` inside network namespace `netns` (`ip netns exec NS nft`).
    pub fn in_netns(netns: &str) -> Self {
        Nft(gantry_nft::Nft::in_netns(netns))
    }

    /// Replaces our table by `ruleset` in one transaction.
    pub async fn apply(&self, table: &str, ruleset: &str) -> Result<(), NetpolError> {
        self.0
            .run(&transaction(table, ruleset))
            .await
            .map_err(|e| error(table, e))
    }

    /// Runs `text` (e.g. from [`crate::set_update`]) as one transaction on our table.
    pub async fn run_transaction(&self, table: &str, text: &str) -> Result<(), NetpolError> {
        self.0.run(text).await.map_err(|e| error(table, e))
    }

    /// Deletes our table (a no-op if it does not exist).
    pub async fn delete_table(&self, table: &str) -> Result<(), NetpolError> {
        self.0
            .run(&delete_transaction(table))
            .await
            .map_err(|e| error(table, e))
    }

    /// `nft list table inet <table>`.
    pub async fn list_table(&self, table: &str) -> Result<String, NetpolError> {
        self.0
            .list_table(FAMILY, table)
            .await
            .map_err(|e| error(table, e))
    }
}
