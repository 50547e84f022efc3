//! Plans in ZooKeeper, stored content-addressed by the SHA-256 of their bytecode.
//!
//! A znode holds at most ~1 MiB (ZooKeeper's `jute.maxbuffer`), and a plan with embedded CSV
//! data can be larger, so the bytecode is always written as chunks of at most [`CHUNK_SIZE`]
//! under `/plans/<hash>`, and the node itself gets a manifest last. A reader that finds no
//! manifest knows the plan is still being written; the hash is the checksum of the reassembled
//! bytes, so a damaged or truncated chunk is detected rather than run.

use serde::{Deserialize, Serialize};
use zookeeper_client::{Client, Error as ZkError};

use crate::error::ClusterError;
use crate::ids::PlanHash;
use crate::layout;
use crate::zk::{self, PERSISTENT};

/// Below ZooKeeper's default 1 MiB limit with room for the request's own framing.
pub const CHUNK_SIZE: usize = 900 * 1024;

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
    if manifest(client, &hash).await?.is_some() {
        return Ok(hash);
    }
    zk::create_if_missing(client, &node, b"").await?;
    let chunks: Vec<&[u8]> = if bytecode.is_empty() {
        vec![&[][..]]
    } else {
        bytecode.chunks(CHUNK_SIZE).collect()
    };
    for (index, chunk) in chunks.iter().enumerate() {
        let index = u32::try_from(index).map_err(|_| ClusterError::PlanCorrupt {
            hash: hash.to_string(),
            detail: "too many chunks".into(),
        })?;
        let path = layout::plan_chunk(&hash, index);
        match client.create(&path, chunk, &PERSISTENT).await {
            Ok(_) => {}
            // Left by an interrupted store of the same plan: same content by construction, but
            // rewrite it in case that store died mid-way through this very chunk.
            Err(ZkError::NodeExists) => {
                client
                    .set_data(&path, chunk, None)
                    .await
                    .map_err(|e| ClusterError::zk("write", &path, e))?;
            }
            Err(e) => return Err(ClusterError::zk("create", &path, e)),
        }
    }
    let manifest = Manifest {
        len: bytecode.len() as u64,
        chunks: chunks.len() as u32,
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
    let capacity = usize::try_from(manifest.len).map_err(|_| corrupt("length overflows".into()))?;
    let mut bytecode = Vec::with_capacity(capacity.min(64 * 1024 * 1024));
    for index in 0..manifest.chunks {
        let path = layout::plan_chunk(hash, index);
        match client.get_data(&path).await {
            Ok((data, _)) => bytecode.extend_from_slice(&data),
            Err(ZkError::NoNode) => return Err(corrupt(format!("chunk {index} is missing"))),
            Err(e) => return Err(ClusterError::zk("read", &path, e)),
        }
    }
    if bytecode.len() as u64 != manifest.len {
        return Err(corrupt(format!(
            "{} bytes reassembled, the manifest says {}",
            bytecode.len(),
            manifest.len
        )));
    }
    let actual = PlanHash::of(&bytecode);
    if &actual != hash {
        return Err(corrupt(format!("reassembled bytes hash to {actual}")));
    }
    Ok(bytecode)
}
