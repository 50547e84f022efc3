//! Errors of the demo target.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum DemoTargetError {
    #[error("demo target: error rate must be between 0 and 1, got {0}")]
    InvalidErrorRate(f64),
    #[error("demo target: capacity must be a positive number of requests per second, got {0}")]
    InvalidCapacity(f64),
    #[error("demo target: cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("demo target: the server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}
