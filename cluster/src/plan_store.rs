//! Plans in ZooKeeper, stored content-addressed by the SHA-256 of their bytecode.
//!
//! A znode holds at most ~1 MiB (ZooKeeper's `jute.maxbuffer`), and a plan with embedded CSV
//! data can be larger, so the bytecode is always written as chunks of at most [`CHUNK_SIZE`]
//! under `/plans/<hash>`, and the node itself gets a manifest last. A reader that finds no
//! manifest knows the plan is still being written; the hash is the checksum of the reassembled
//! bytes, so a damaged or truncated chunk is detected rather than run.

use serde::{Deserialize, Serialize};
use zookeeper_client::{Client, Error as ZkError};

use crate::access::Node;
use crate::error::ClusterError;
use crate::ids::PlanHash;
use crate::zk;
use crate::zk::chunks;
use crate::zk::layout;

pub use crate::zk::chunks::CHUNK_SIZE;

/// The data of `/plans/<hash>`, written once every chunk is in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Total bytecode length in bytes.
    pub len: u64,
    pub chunks: u32,
}

/// Stores a plan's bytecode and returns its content address. Storing the same bytes again (or
/// concurrently from another submitter) is harmless: the content is the same.
pub async fn store(client: &Client, bytecode: &[u8]) -> Result<PlanHash, ClusterError> {
    let hash = PlanHash::of(bytecode);
    let node = layout::plan(&hash);
    if let Some(stored) = manifest(client, &hash).await? {
        // Rewritten as it is: its modification time says "about to be used", so retention
        // does not take it for unreferenced between this and the run's creation.
        let data = zk::to_json(&stored, "plan manifest", &node)?;
        client
            .set_data(&node, &data, None)
            .await
            .map_err(|e| ClusterError::zk("write", &node, e))?;
        return Ok(hash);
    }
    zk::create_if_missing(client, &node, b"", Node::Plan).await?;
    let chunks = chunks::write(client, &node, bytecode, Node::PlanChunk).await?;
    let manifest = Manifest {
        len: bytecode.len() as u64,
        chunks,
    };
    let data = zk::to_json(&manifest, "plan manifest", &node)?;
    client
        .set_data(&node, &data, None)
        .await
        .map_err(|e| ClusterError::zk("write", &node, e))?;
    Ok(hash)
}

/// The manifest of a completely stored plan; `None` when absent or still being written.
pub async fn manifest(client: &Client, hash: &PlanHash) -> Result<Option<Manifest>, ClusterError> {
    let node = layout::plan(hash);
    match client.get_data(&node).await {
        Ok((data, _)) if data.is_empty() => Ok(None),
        Ok((data, _)) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|e| ClusterError::malformed("plan manifest", &node, e)),
        Err(ZkError::NoNode) => Ok(None),
        Err(e) => Err(ClusterError::zk("read", &node, e)),
    }
}

/// Reassembles a plan's bytecode and checks it against its hash.
pub async fn load(client: &Client, hash: &PlanHash) -> Result<Vec<u8>, ClusterError> {
    let corrupt = |detail: String| ClusterError::PlanCorrupt {
        hash: hash.to_string(),
        detail,
    };
    let manifest = manifest(client, hash)
        .await?
        .ok_or_else(|| ClusterError::PlanNotFound(hash.to_string()))?;
    let node = layout::plan(hash);
    let bytecode = chunks::read(client, &node, manifest.chunks, manifest.len)
        .await?
        .map_err(|damage| corrupt(damage.to_string()))?;
    let actual = PlanHash::of(&bytecode);
    if &actual != hash {
        return Err(corrupt(format!("reassembled bytes hash to {actual}")));
    }
    Ok(bytecode)
}
