//! Deleting deltas during a run without losing or double-counting any, even if the coordinator
//! dies at any point. Every [`FOLD_EVERY`] the leader folds the seconds it has handed to the
//! collector since the last fold into one batch node, `merged/b-<n>` (the per-second sums, in
//! the interval-delta format: histograms add, so they equal the deltas they replace), and in the
//! same ZooKeeper transaction rewrites the merge mark (the `merged` node's data): the seconds
//! folded so far, the batches, the totals, and per agent the last delta node folded and its
//! counts. Only then, in later transactions, does it delete those agents' nodes.
//!
//! A coordinator that resumes the run reads the mark and the batches and replays them into its
//! collector (the same seconds in the same order, so its series and record are as if it had
//! merged every delta itself), moves each agent's cursor to its folded node and deletes any
//! node at or below it left by a crash between the mark and the delete; it merges the nodes
//! above as usual. So a node is counted once: in a batch (at or below the mark) or as a delta
//! (above it), whichever side of the crash it fell on.
//!
//! What this keeps in ZooKeeper during a run: the deltas of the last few seconds per agent,
//! plus one batch per fold (its seconds summed over every agent, not per agent). Retention
//! deletes `merged` with `reports` once the run is finished.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ptl_engine::record::{decode_delta, encode_delta, IntervalDelta, Recorded};
use serde::{Deserialize, Serialize};
use zookeeper_client::{Client, Error as ZkError};

use crate::access::{self, Node};
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::zk::{self, layout};

/// How often handed-over seconds are folded and their deltas deleted.
pub const FOLD_EVERY: Duration = Duration::from_secs(2);

/// Deletes per transaction: well under ZooKeeper's request size limit.
const DELETES_PER_MULTI: usize = 500;

/// The data of `runs/<id>/merged`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeMark {
    /// Seconds of the run before this one are in the batches.
    pub next_second: u64,
    /// Batch nodes written: `b-000000` up to this one, excluded.
    pub batches: u32,
    /// Totals of the folded deltas (the live view's counters).
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub agents: BTreeMap<String, AgentMark>,
}

/// One agent's deltas folded so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AgentMark {
    /// Its last delta node folded (a name under `reports/<agent>/`).
    pub node: String,
    pub deltas: u64,
    pub requests: u64,
    pub last_window: Option<u64>,
}

/// One second of a batch: its number, its length (1 s, less for a partial last one) and the
/// sum of every agent's window that went into it.
pub type FoldedSecond = (u64, f64, Recorded);

#[derive(Serialize, Deserialize)]
struct WireBatch {
    seconds: Vec<WireSecond>,
}

#[derive(Serialize, Deserialize)]
struct WireSecond {
    second: u64,
    length: f64,
    /// `encode_delta`'s bytes in base64; a batch written before deltas were binary holds their
    /// JSON text, which [`decode_delta`] still reads.
    delta: String,
}

/// Writes `batch` as the mark's next batch node and the new mark, in one transaction.
/// `mark` is the new mark (its `batches` counts the new one).
pub async fn fold(
    client: &Client,
    run: &RunId,
    mark: &MergeMark,
    batch: &[FoldedSecond],
) -> Result<(), ClusterError> {
    let dir = layout::run_merged(run);
    zk::create_if_missing(client, &dir, b"", Node::Coordinated).await?;
    let mut seconds = Vec::with_capacity(batch.len());
    for (second, length, recorded) in batch {
        let delta = IntervalDelta {
            agent: 0,
            window: *second,
            recorded: recorded.clone(),
        };
        let bytes = encode_delta(&delta).map_err(|e| ClusterError::malformed("batch", &dir, e))?;
        seconds.push(WireSecond {
            second: *second,
            length: *length,
            delta: BASE64.encode(&bytes),
        });
    }
    let path = layout::merged_batch(run, mark.batches.saturating_sub(1));
    let data = zk::to_json(&WireBatch { seconds }, "batch", &path)?;
    let mark_data = zk::to_json(mark, "merge mark", &dir)?;
    let acl = access::policy::acl_for(client, Node::Coordinated, None).await?;
    let options = Node::Coordinated.mode(false).with_acls((&acl[..]).into());
    let mut multi = client.new_multi_writer();
    multi
        .add_create(&path, &data, &options)
        .and_then(|_| multi.add_set_data(&dir, &mark_data, None))
        .map_err(|e| ClusterError::zk("fold", &path, e))?;
    match multi.commit().await {
        Ok(_) => Ok(()),
        Err(e) => Err(ClusterError::zk("fold", &path, ZkError::from(e))),
    }
}

/// Deletes `nodes` (full paths), many per transaction; a node already gone is fine.
pub async fn delete(client: &Client, nodes: &[String]) -> Result<(), ClusterError> {
    for chunk in nodes.chunks(DELETES_PER_MULTI) {
        let mut multi = client.new_multi_writer();
        for node in chunk {
            multi
                .add_delete(node, None)
                .map_err(|e| ClusterError::zk("delete", node, e))?;
        }
        if multi.commit().await.is_err() {
            // One node already gone fails the whole transaction: go one by one.
            for node in chunk {
                match client.delete(node, None).await {
                    Ok(()) | Err(ZkError::NoNode) => {}
                    Err(e) => return Err(ClusterError::zk("delete", node, e)),
                }
            }
        }
    }
    Ok(())
}

/// The run's mark and every batch's seconds in order; `None` before the first fold.
pub async fn read(
    client: &Client,
    run: &RunId,
) -> Result<Option<(MergeMark, Vec<FoldedSecond>)>, ClusterError> {
    let Some((mark, _)) = read_mark(client, run).await? else {
        return Ok(None);
    };
    let seconds = read_batches(client, run, mark.batches).await?;
    Ok(Some((mark, seconds)))
}

/// The run's mark and the version of its node (each fold rewrites it); `None` before the
/// first fold.
pub async fn read_mark(
    client: &Client,
    run: &RunId,
) -> Result<Option<(MergeMark, i32)>, ClusterError> {
    let dir = layout::run_merged(run);
    match client.get_data(&dir).await {
        Ok((data, _)) if data.is_empty() => Ok(None),
        Ok((data, stat)) => serde_json::from_slice::<MergeMark>(&data)
            .map(|mark| Some((mark, stat.version)))
            .map_err(|e| ClusterError::malformed("merge mark", &dir, e)),
        Err(ZkError::NoNode) => Ok(None),
        Err(e) => Err(ClusterError::zk("read", &dir, e)),
    }
}

/// The seconds of batches `0..batches`, in order.
pub async fn read_batches(
    client: &Client,
    run: &RunId,
    batches: u32,
) -> Result<Vec<FoldedSecond>, ClusterError> {
    let mut seconds = Vec::new();
    for n in 0..batches {
        seconds.extend(read_batch(client, run, n).await?);
    }
    Ok(seconds)
}

/// The seconds of batch `n`, in order.
pub async fn read_batch(
    client: &Client,
    run: &RunId,
    n: u32,
) -> Result<Vec<FoldedSecond>, ClusterError> {
    let path = layout::merged_batch(run, n);
    let (data, _) = client
        .get_data(&path)
        .await
        .map_err(|e| ClusterError::zk("read", &path, e))?;
    let batch: WireBatch =
        serde_json::from_slice(&data).map_err(|e| ClusterError::malformed("batch", &path, e))?;
    let mut seconds = Vec::with_capacity(batch.seconds.len());
    for s in batch.seconds {
        let bytes = if s.delta.starts_with('{') {
            s.delta.into_bytes()
        } else {
            BASE64
                .decode(&s.delta)
                .map_err(|e| ClusterError::malformed("batch", &path, e))?
        };
        let delta = decode_delta(&bytes).map_err(|e| ClusterError::malformed("batch", &path, e))?;
        seconds.push((s.second, s.length, delta.recorded));
    }
    Ok(seconds)
}

/// An agent's delta nodes at or below `node`: folded, left by a crash before their delete.
pub async fn folded_left(
    client: &Client,
    run: &RunId,
    agent: &AgentId,
    node: &str,
) -> Result<Vec<String>, ClusterError> {
    let dir = layout::agent_reports(run, agent);
    Ok(zk::children(client, &dir)
        .await?
        .into_iter()
        .filter(|n| n.as_str() <= node)
        .map(|n| format!("{dir}/{n}"))
        .collect())
}
