//! Bytes larger than a znode allows (ZooKeeper's `jute.maxbuffer`, ~1 MiB by default), stored
//! as `chunk-0000`, `chunk-0001`, … children of one node. Callers keep the count and length in
//! that node's own data, written last, so a reader never takes a half-written set for whole.

use zookeeper_client::{Client, Error as ZkError};

use crate::access::{self, Node};
use crate::error::ClusterError;
use crate::zk::{self, layout};

/// Below ZooKeeper's default 1 MiB limit with room for the request's own framing.
pub const CHUNK_SIZE: usize = 900 * 1024;

/// Writes `bytes` as chunks (nodes of kind `kind`) under `node` (which must exist) and returns
/// how many. Chunks left by an earlier, interrupted write are overwritten.
pub async fn write(
    client: &Client,
    node: &str,
    bytes: &[u8],
    kind: Node,
) -> Result<u32, ClusterError> {
    let acl = access::policy::acl_for(client, kind, None).await?;
    let chunks: Vec<&[u8]> = if bytes.is_empty() {
        vec![&[][..]]
    } else {
        bytes.chunks(CHUNK_SIZE).collect()
    };
    let count = u32::try_from(chunks.len())
        .map_err(|_| ClusterError::malformed("chunked data", node, "too many chunks"))?;
    for (index, chunk) in (0..count).zip(&chunks) {
        let path = layout::chunk(node, index);
        // One left by an interrupted write is rewritten, in case that write died mid-way
        // through this very chunk.
        if !zk::create_with(client, &path, chunk, kind, &acl).await? {
            client
                .set_data(&path, chunk, None)
                .await
                .map_err(|e| ClusterError::zk("write", &path, e))?;
        }
    }
    Ok(count)
}

/// Why chunked data could not be reassembled as its manifest describes.
#[derive(Debug)]
pub enum Damage {
    Missing(u32),
    Length { found: u64, expected: u64 },
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Missing(index) => write!(f, "chunk {index} is missing"),
            Damage::Length { found, expected } => {
                write!(f, "{found} bytes reassembled, the manifest says {expected}")
            }
        }
    }
}

/// Reassembles `count` chunks under `node`, which must add up to `len` bytes.
/// `Ok(Err(_))` is damaged data; `Err(_)` is ZooKeeper failing.
pub async fn read(
    client: &Client,
    node: &str,
    count: u32,
    len: u64,
) -> Result<Result<Vec<u8>, Damage>, ClusterError> {
    let capacity = usize::try_from(len).unwrap_or(usize::MAX);
    let mut bytes = Vec::with_capacity(capacity.min(64 * 1024 * 1024));
    for index in 0..count {
        let path = layout::chunk(node, index);
        match client.get_data(&path).await {
            Ok((data, _)) => bytes.extend_from_slice(&data),
            Err(ZkError::NoNode) => return Ok(Err(Damage::Missing(index))),
            Err(e) => return Err(ClusterError::zk("read", &path, e)),
        }
    }
    if bytes.len() as u64 != len {
        return Ok(Err(Damage::Length {
            found: bytes.len() as u64,
            expected: len,
        }));
    }
    Ok(Ok(bytes))
}
