//! Deleting deltas during a run without losing or double-counting any, even if the coordinator
//! dies at any point. Every [`FOLD_EVERY`] the leader folds the seconds it has handed to the
//! collector since the last fold into the run's merged history, nodes `merged/b-<n>` (the
//! per-second sums, in the interval-delta format: histograms add, so they equal the deltas they
//! replace), and in the same ZooKeeper transaction rewrites the merge mark (the `merged` node's
//! data): the seconds folded so far, the history's intervals, the totals, and per agent the last
//! delta node folded and its counts. Only then, in later transactions, does it delete those
//! agents' nodes.
//!
//! The history is bounded (`merged_history`): once it holds more than `cap` intervals, the
//! same transaction that folds new seconds replaces neighbouring intervals by their sum. So a
//! node of the history is in the mark or it is not, never half-merged.
//!
//! A coordinator that resumes the run reads the mark and the history and replays it into its
//! collector (the same intervals in the same order, so its record is as if it had merged every
//! delta itself, and its series as exact, at the history's width), moves each agent's cursor to
//! its folded node and deletes any node at or below it left by a crash between the mark and the
//! delete; it merges the nodes above as usual. So a node is counted once: in the history (at or
//! below the mark) or as a delta (above it), whichever side of the crash it fell on.
//!
//! What this keeps in ZooKeeper during a run: the deltas of the last few seconds per agent,
//! plus at most about `cap` intervals summed over every agent. Retention deletes `merged` with
//! `reports` once the run is finished.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ptl_engine::record::{decode_delta, encode_delta, IntervalDelta, Recorded};
use serde::{Deserialize, Serialize};
use zookeeper_client::{Client, Error as ZkError};

use crate::access::{self, Node};
use crate::coordinator::merged_history::{self, Interval};
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::zk::{self, layout};

/// How often handed-over seconds are folded and their deltas deleted.
pub const FOLD_EVERY: Duration = Duration::from_secs(2);

/// Deletes per transaction: well under ZooKeeper's request size limit.
const DELETES_PER_MULTI: usize = 500;

/// Merges of history intervals per fold, and the bytes they may add to its transaction: a
/// width change merges every pair, spread over a few folds rather than one large transaction
/// (ZooKeeper refuses requests over 1 MB).
const MERGES_PER_FOLD: usize = 16;
const MERGE_BYTES_PER_FOLD: usize = 384 * 1024;

/// The data of `runs/<id>/merged`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MergeMark {
    /// Seconds of the run before this one are in the history.
    pub next_second: u64,
    /// Batch nodes ever written: the next one is `b-<batches>`.
    pub batches: u32,
    /// The history's nodes in order, with the seconds each holds. Absent in a mark written
    /// before the history was bounded: its nodes are then `b-0` up to `batches`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intervals: Option<Vec<Interval>>,
    /// Seconds per interval the history merges towards (1 until it first exceeds its cap).
    #[serde(default = "one")]
    pub width: u64,
    /// Totals of the folded deltas (the live view's counters).
    pub requests: u64,
    pub errors: u64,
    pub dropped: u64,
    pub agents: BTreeMap<String, AgentMark>,
}

fn one() -> u64 {
    1
}

impl MergeMark {
    /// The history's nodes, oldest first.
    pub fn nodes(&self) -> Vec<u32> {
        match &self.intervals {
            Some(intervals) => intervals.iter().map(|i| i.node).collect(),
            None => (0..self.batches).collect(),
        }
    }
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

/// Seconds `first..first + count` of the run summed over every agent, `length` seconds long
/// (`count`, less when the last one was partial).
#[derive(Debug, Clone)]
pub struct Span {
    pub first: u64,
    pub count: u64,
    pub length: f64,
    pub recorded: Recorded,
}

impl Span {
    /// One second as the collector was handed it.
    pub fn second(second: u64, length: f64, recorded: Recorded) -> Span {
        Span {
            first: second,
            count: 1,
            length,
            recorded,
        }
    }

    /// Its entry in the mark, as history node `node`.
    fn interval(&self, node: u32) -> Interval {
        Interval {
            node,
            first: self.first,
            count: self.count,
        }
    }

    fn absorb(&mut self, next: &Span) {
        self.count += next.count;
        self.length += next.length;
        self.recorded.merge(&next.recorded);
    }
}

#[derive(Serialize, Deserialize)]
struct WireBatch {
    seconds: Vec<WireSecond>,
}

#[derive(Serialize, Deserialize)]
struct WireSecond {
    second: u64,
    /// Seconds it sums; 1 in nodes written before the history was bounded.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    count: u64,
    length: f64,
    /// `encode_delta`'s bytes in base64; a batch written before deltas were binary holds their
    /// JSON text, which [`decode_delta`] still reads.
    delta: String,
}

fn is_one(n: &u64) -> bool {
    *n == 1
}

/// Folds `handed` (the seconds handed to the collector since the last fold, in order) into the
/// history, merges intervals as far as `cap` asks, and writes the new nodes, the deletes of
/// the nodes they replace and `mark` in one transaction. `mark` is the new mark (its counters,
/// agents and `next_second` set by the caller); its history is updated here, so a caller keeps
/// it only if this succeeds. Returns how many pairs of intervals were merged.
pub async fn fold(
    client: &Client,
    run: &RunId,
    mark: &mut MergeMark,
    handed: &[Span],
    cap: usize,
) -> Result<usize, ClusterError> {
    let dir = layout::run_merged(run);
    zk::create_if_missing(client, &dir, b"", Node::Coordinated).await?;
    let before: HashSet<u32> = mark.nodes().into_iter().collect();
    let mut intervals = mark.intervals.take().unwrap_or_default();
    // Nodes this fold creates, unless a later merge in it consumes them first.
    let mut fresh: HashMap<u32, (Span, Vec<u8>)> = HashMap::new();
    let firsts: Vec<u64> = handed.iter().map(|s| s.first).collect();
    for group in merged_history::groups(&firsts, mark.width) {
        let mut span = handed[group.start].clone();
        for s in &handed[group.start + 1..group.end] {
            span.absorb(s);
        }
        let node = next_node(mark);
        intervals.push(span.interval(node));
        let bytes = encode(&span, &dir)?;
        fresh.insert(node, (span, bytes));
    }
    mark.width = merged_history::widen(&intervals, mark.width, cap);
    let (mut merges, mut merged_bytes) = (0, 0);
    while merges < MERGES_PER_FOLD && merged_bytes < MERGE_BYTES_PER_FOLD {
        let Some(i) = merged_history::next_merge(&intervals, mark.width) else {
            break;
        };
        let mut span = take_span(client, run, &mut fresh, intervals[i].node).await?;
        span.absorb(&take_span(client, run, &mut fresh, intervals[i + 1].node).await?);
        let node = next_node(mark);
        intervals[i] = span.interval(node);
        intervals.remove(i + 1);
        let bytes = encode(&span, &dir)?;
        merged_bytes += bytes.len();
        fresh.insert(node, (span, bytes));
        merges += 1;
    }
    let kept: HashSet<u32> = intervals.iter().map(|i| i.node).collect();
    let mut writes = Vec::new();
    for interval in &intervals {
        if let Some((span, bytes)) = fresh.get(&interval.node) {
            let path = layout::merged_batch(run, interval.node);
            let batch = WireBatch {
                seconds: vec![WireSecond {
                    second: span.first,
                    count: span.count,
                    length: span.length,
                    delta: BASE64.encode(bytes),
                }],
            };
            writes.push((zk::to_json(&batch, "batch", &path)?, path));
        }
    }
    mark.intervals = Some(intervals);
    let mark_data = zk::to_json(&*mark, "merge mark", &dir)?;
    let acl = access::policy::acl_for(client, Node::Coordinated, None).await?;
    let options = Node::Coordinated.mode(false).with_acls((&acl[..]).into());
    let mut multi = client.new_multi_writer();
    for (data, path) in &writes {
        multi
            .add_create(path, data, &options)
            .map_err(|e| ClusterError::zk("fold", path, e))?;
    }
    for gone in before.difference(&kept) {
        let path = layout::merged_batch(run, *gone);
        multi
            .add_delete(&path, None)
            .map_err(|e| ClusterError::zk("fold", &path, e))?;
    }
    multi
        .add_set_data(&dir, &mark_data, None)
        .map_err(|e| ClusterError::zk("fold", &dir, e))?;
    match multi.commit().await {
        Ok(_) => Ok(merges),
        Err(e) => Err(ClusterError::zk("fold", &dir, ZkError::from(e))),
    }
}

fn next_node(mark: &mut MergeMark) -> u32 {
    let node = mark.batches;
    mark.batches += 1;
    node
}

fn encode(span: &Span, dir: &str) -> Result<Vec<u8>, ClusterError> {
    let delta = IntervalDelta {
        agent: 0,
        window: span.first,
        recorded: span.recorded.clone(),
    };
    encode_delta(&delta).map_err(|e| ClusterError::malformed("batch", dir, e))
}

/// Node `node` of the history as one span: this fold's own, or read back.
async fn take_span(
    client: &Client,
    run: &RunId,
    fresh: &mut HashMap<u32, (Span, Vec<u8>)>,
    node: u32,
) -> Result<Span, ClusterError> {
    if let Some((span, _)) = fresh.remove(&node) {
        return Ok(span);
    }
    let mut spans = read_batch(client, run, node).await?.into_iter();
    let Some(mut span) = spans.next() else {
        return Err(ClusterError::malformed(
            "batch",
            &layout::merged_batch(run, node),
            "it holds no second",
        ));
    };
    for s in spans {
        span.absorb(&s);
    }
    Ok(span)
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

/// Attempts at reading a mark and its history while folds replace the history under it.
const READ_ATTEMPTS: usize = 5;

/// The run's mark (its `intervals` always set, also for a mark written before the history
/// was bounded) and the history's spans in order; `None` before the first fold. A fold that
/// merges intervals while they are read makes it read again.
pub async fn read(
    client: &Client,
    run: &RunId,
) -> Result<Option<(MergeMark, Vec<Span>)>, ClusterError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let Some((mut mark, version)) = read_mark(client, run).await? else {
            return Ok(None);
        };
        let mut intervals = Vec::new();
        let mut spans = Vec::new();
        let mut gone = None;
        for node in mark.nodes() {
            match read_batch(client, run, node).await {
                Ok(read) => {
                    if let (Some(first), Some(last)) = (read.first(), read.last()) {
                        intervals.push(Interval {
                            node,
                            first: first.first,
                            count: last.first + last.count - first.first,
                        });
                    }
                    spans.extend(read);
                }
                Err(e) => {
                    gone = Some(e);
                    break;
                }
            }
        }
        let Some(e) = gone else {
            mark.intervals.get_or_insert(intervals);
            return Ok(Some((mark, spans)));
        };
        let moved = read_mark(client, run).await?.map(|(_, v)| v) != Some(version);
        if !moved || attempt >= READ_ATTEMPTS {
            return Err(e);
        }
    }
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

/// The spans of history node `n`, in order: one, or one per second in a node written
/// before the history was bounded.
pub async fn read_batch(client: &Client, run: &RunId, n: u32) -> Result<Vec<Span>, ClusterError> {
    let path = layout::merged_batch(run, n);
    let (data, _) = client
        .get_data(&path)
        .await
        .map_err(|e| ClusterError::zk("read", &path, e))?;
    let batch: WireBatch =
        serde_json::from_slice(&data).map_err(|e| ClusterError::malformed("batch", &path, e))?;
    let mut spans = Vec::with_capacity(batch.seconds.len());
    for s in batch.seconds {
        let bytes = if s.delta.starts_with('{') {
            s.delta.into_bytes()
        } else {
            BASE64
                .decode(&s.delta)
                .map_err(|e| ClusterError::malformed("batch", &path, e))?
        };
        let delta = decode_delta(&bytes).map_err(|e| ClusterError::malformed("batch", &path, e))?;
        spans.push(Span {
            first: s.second,
            count: s.count.max(1),
            length: s.length,
            recorded: delta.recorded,
        });
    }
    Ok(spans)
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
