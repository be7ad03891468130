//! The error set of network policy enforcement: each variant names the step that failed.

use std::io;

/// Why enforcement (or one of its steps) failed.
#[derive(Debug, thiserror::Error)]
pub enum NetpolError {
    /// The configuration holds a value the rules cannot use.
    #[error("invalid netpol config: {0}")]
    Config(String),
    /// `nft` could not be started or fed.
    #[error("running nft ({program}): {source}")]
    NftSpawn {
        program: String,
        #[source]
        source: io::Error,
    },
    /// `nft` rejected the transaction.
    #[error("nft -f rejected the transaction for table {table}: {stderr}")]
    NftApply { table: String, stderr: String },
    /// A watch on the API server ended for good.
    #[error("watching {resource}: {message}")]
    Watch {
        resource: &'static str,
        message: String,
    },
}
