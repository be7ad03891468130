//! Applying rules: `nft -f -` with one transaction that replaces only our table (through
//! gantry-nft, shared with network policy).

use crate::ProxyError;

/// The transaction that atomically replaces table `ip <table>` by `ruleset` (the output of
/// [`crate::ruleset`]): create it if missing, delete it, define it again. Other tables are
/// never named, so never touched; if any line fails, nothing changes.
pub fn transaction(table: &str, ruleset: &str) -> String {
    gantry_nft::replace_transaction("ip", table, ruleset)
}

/// The transaction that removes our table whether or not it exists.
pub fn delete_transaction(table: &str) -> String {
    gantry_nft::delete_transaction("ip", table)
}

/// How to run `nft`: on the host, or inside a network namespace (`ip netns exec NS nft`).
#[derive(Debug, Clone)]
pub struct Nft(gantry_nft::Nft);

fn error(table: &str, e: gantry_nft::NftError) -> ProxyError {
    match e {
        gantry_nft::NftError::Spawn { program, source } => ProxyError::NftSpawn { program, source },
        gantry_nft::NftError::Failed { stderr } => ProxyError::NftApply {
            table: table.to_string(),
            stderr,
        },
    }
}

impl Nft {
    /// `nft` in the proxy's own network namespace.
    pub fn host() -> Self {
        Nft(gantry_nft::Nft::host())
    }

    /// `nft` inside the named network namespace (for tests).
    pub fn in_netns(netns: &str) -> Self {
        Nft(gantry_nft::Nft::in_netns(netns))
    }

    /// Replaces table `ip <table>` by `ruleset` in one transaction.
    pub async fn apply(&self, table: &str, ruleset: &str) -> Result<(), ProxyError> {
        self.0
            .run(&transaction(table, ruleset))
            .await
            .map_err(|e| error(table, e))
    }

    /// Turns our table, last programmed with `previous`, into `next` in place, keeping the
    /// ClientIP affinity sets' entries (see [`crate::update`]).
    pub async fn update(&self, table: &str, previous: &str, next: &str) -> Result<(), ProxyError> {
        let text = crate::update::update_transaction(table, previous, next);
        self.0.run(&text).await.map_err(|e| error(table, e))
    }

    /// Deletes table `ip <table>` (a no-op if it does not exist).
    pub async fn delete_table(&self, table: &str) -> Result<(), ProxyError> {
        self.0
            .run(&delete_transaction(table))
            .await
            .map_err(|e| error(table, e))
    }

    /// `nft list table ip <table>`.
    pub async fn list_table(&self, table: &str) -> Result<String, ProxyError> {
        self.0
            .list_table("ip", table)
            .await
            .map_err(|e| error(table, e))
    }
}
