//! The proxy's error set: each variant names the step that failed.

use std::io;

/// Why the proxy (or one of its steps) failed.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// The configuration holds a value the rules cannot use.
    #[error("invalid proxy config: {0}")]
    Config(String),
    /// `nft` could not be started or fed.
    #[error("running nft ({program}): {source}")]
    NftSpawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// `nft` rejected the transaction.
    #[error("nft -f rejected the ruleset for table {table}: {stderr}")]
    NftApply { table: String, stderr: String },
    /// A watch on the API server ended for good.
    #[error("watching {resource}: {message}")]
    Watch {
        resource: &'static str,
        message: String,
    },
    /// Patching a LoadBalancer Service's status failed.
    #[error("patching status of service {namespace}/{name}: {source}")]
    PatchStatus {
        namespace: String,
        name: String,
        #[source]
        source: kube::Error,
    },
}
