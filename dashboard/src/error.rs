//! The dashboard's one error type: what can go wrong starting the server or following a cluster.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot read the listening address: {0}")]
    LocalAddr(std::io::Error),
    #[error("cluster: {0}")]
    Cluster(#[from] ptl_cluster::ClusterError),
    #[error("TLS certificate file {path}: {reason}")]
    TlsCert { path: PathBuf, reason: String },
    #[error("TLS key file {path}: {reason}")]
    TlsKey { path: PathBuf, reason: String },
    #[error("TLS certificate {cert} with key {key}: {reason}")]
    TlsIdentity {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("run {run}: the plan cannot be decoded: {reason}")]
    Plan { run: String, reason: String },
}
