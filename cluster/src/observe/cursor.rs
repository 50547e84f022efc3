//! Where a reader of a run's interval deltas stands, and the one place that knows how deltas are
//! stored: today each agent writes one delta per node, `reports/<agent>/d-<window>` (zero-padded),
//! in window order (its writer awaits each create, and deltas a lost session could not write
//! are delivered later, still in order, after the ones it did). The leader deletes them during
//! the run once folded into its merge mark (`coordinator::merge_mark`, every 2 s, seconds
//! already handed over). The coordinator merging them
//! ([`crate::coordinator`]) and every [`super::Observer`] read them through here.
//!
//! A cursor holds, per agent, the name of the newest delta node read. Names sort in creation
//! order, and ZooKeeper shows a reader a prefix of each folder's history, so every node
//! named at or below the cursor has been seen and every later one has not: a reader polling with
//! the same cursor is handed each delta exactly once, and it never needs a node below its cursor
//! again.
//!
//! **A reader behind the deletions** ([`DeltaCursor::read_following`], what every
//! [`super::Observer`] uses; the coordinator resumes from the mark its own way,
//! `coordinator::supervise::restore`). The merge mark names, per agent, the last node folded
//! into the history (the sums of the seconds the coordinator handed its collector; histograms add,
//! so they equal the deltas they replace), and the coordinator deletes only nodes at or below
//! it, after writing it. So:
//! - a cursor at or past the mark for every agent reads nodes as usual: none above the mark is
//!   deleted while the mark stands;
//! - a cursor behind it for any agent (the reader started late, or fell behind while nodes went)
//!   cannot rely on those nodes: it is handed a [`Restart`] — the history's intervals, to replace
//!   everything it built — and its cursors move to the mark; it reads the nodes above from
//!   there;
//! - a fold between the poll's first and last look at the mark may have deleted nodes the poll
//!   was about to list; if any agent's cursor was below the new mark when the poll began, the
//!   next poll restarts. Node names are compared, never counted.
//!
//! So a reader is handed every delta exactly once, folded or not, however far behind it falls;
//! [`DeltaCursor::missed`] counts only what [`DeltaCursor::read_new`] alone (the coordinator's
//! own reading, which never falls behind its mark) could not read.

use std::collections::BTreeMap;

use ptl_engine::record::{decode_delta, IntervalDelta};
use zookeeper_client::Client;

use crate::coordinator::merge_mark::{self, MergeMark};
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::zk;
use crate::zk::layout;

/// One agent's place in its deltas: the newest node read, `None` before the first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct AgentCursor {
    last: Option<String>,
}

impl AgentCursor {
    /// The agent's delta nodes after this cursor, oldest first.
    pub(crate) async fn unread(
        &self,
        client: &Client,
        run: &RunId,
        agent: &AgentId,
    ) -> Result<Vec<String>, ClusterError> {
        let mut nodes = zk::children(client, &layout::agent_reports(run, agent)).await?;
        if let Some(last) = &self.last {
            nodes.retain(|node| node > last);
        }
        Ok(nodes)
    }

    /// `node` (from [`AgentCursor::unread`]) is dealt with: read, or passed over for good.
    pub(crate) fn advance(&mut self, node: String) {
        self.last = Some(node);
    }
}

/// Reads and decodes one delta node.
pub(crate) async fn read_delta(
    client: &Client,
    run: &RunId,
    agent: &AgentId,
    node: &str,
) -> Result<IntervalDelta, ClusterError> {
    let stored = read_delta_bytes(client, run, agent, node).await?;
    decode_node(run, agent, node, &stored.bytes)
}

/// A delta node as stored.
pub(crate) struct StoredDelta {
    /// A few kB; decoded, its histograms take far more.
    pub bytes: Vec<u8>,
    /// When the node was created (the ZooKeeper server's clock, Unix ms).
    pub created_ms: i64,
}

/// Reads one delta node as stored; a node listed and gone since is an error.
pub(crate) async fn read_delta_bytes(
    client: &Client,
    run: &RunId,
    agent: &AgentId,
    node: &str,
) -> Result<StoredDelta, ClusterError> {
    read_delta_if_written(client, run, agent, node)
        .await?
        .ok_or_else(|| {
            let path = format!("{}/{node}", layout::agent_reports(run, agent));
            ClusterError::zk("read", &path, zookeeper_client::Error::NoNode)
        })
}

/// Reads one delta node as stored, `None` if it is not written (yet).
pub(crate) async fn read_delta_if_written(
    client: &Client,
    run: &RunId,
    agent: &AgentId,
    node: &str,
) -> Result<Option<StoredDelta>, ClusterError> {
    let path = format!("{}/{node}", layout::agent_reports(run, agent));
    match client.get_data(&path).await {
        Ok((bytes, stat)) => Ok(Some(StoredDelta {
            bytes,
            created_ms: stat.ctime,
        })),
        Err(zookeeper_client::Error::NoNode) => Ok(None),
        Err(e) => Err(ClusterError::zk("read", &path, e)),
    }
}

/// Decodes a delta node's bytes ([`read_delta_bytes`]).
pub(crate) fn decode_node(
    run: &RunId,
    agent: &AgentId,
    node: &str,
    bytes: &[u8],
) -> Result<IntervalDelta, ClusterError> {
    decode_delta(bytes).map_err(|e| {
        let path = format!("{}/{node}", layout::agent_reports(run, agent));
        ClusterError::malformed("interval delta", &path, e)
    })
}

/// One agent's interval delta, as it reported it.
#[derive(Debug, Clone)]
pub struct AgentDelta {
    pub agent: AgentId,
    pub delta: IntervalDelta,
}

impl AgentDelta {
    /// Requests completed in the delta's window.
    pub fn requests(&self) -> u64 {
        self.delta
            .recorded
            .request
            .iter()
            .map(|r| r.completed)
            .sum()
    }
}

/// What a reader behind the coordinator's deletions starts again from: the run's folded
/// seconds so far, which replace everything it read before.
#[derive(Debug, Clone, Default)]
pub struct Restart {
    /// The merge mark's history, oldest first (`coordinator::merged_history`).
    pub spans: Vec<FoldedSpan>,
    /// Per agent, the deltas and requests folded.
    pub agents: BTreeMap<AgentId, Folded>,
}

/// One interval of a [`Restart`]: `delta.window` is its first second of the run,
/// `delta.recorded` the sum of every agent's deltas for its `seconds` seconds (`agent` is 0).
/// One second each while the run is shorter than the coordinator's history, wider after.
#[derive(Debug, Clone)]
pub struct FoldedSpan {
    pub delta: IntervalDelta,
    pub seconds: u64,
}

/// One agent's deltas in a [`Restart`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Folded {
    pub deltas: u64,
    pub requests: u64,
}

/// One poll's worth of a run's deltas.
#[derive(Debug, Clone, Default)]
pub struct DeltaRead {
    /// Set when what was read before must be replaced by this, then `deltas` added.
    pub restart: Option<Restart>,
    /// The deltas after the cursor, oldest first per agent.
    pub deltas: Vec<AgentDelta>,
}

/// A reader's place in one run's deltas, kept by the reader between calls to
/// [`super::Observer::deltas`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaCursor {
    run: RunId,
    agents: BTreeMap<AgentId, AgentCursor>,
    missed: u64,
    damaged: u64,
    /// A fold during the last poll may have deleted nodes it did not list: restart next time.
    suspect: bool,
}

impl DeltaCursor {
    /// Before the run's first delta.
    pub fn new(run: RunId) -> DeltaCursor {
        DeltaCursor {
            run,
            agents: BTreeMap::new(),
            missed: 0,
            damaged: 0,
            suspect: false,
        }
    }

    pub fn run(&self) -> &RunId {
        &self.run
    }

    /// The agents that have begun reporting (their report folder exists), whether or not a
    /// delta of theirs has been read yet.
    pub fn agents(&self) -> impl Iterator<Item = &AgentId> {
        self.agents.keys()
    }

    /// Delta nodes listed but gone before they could be read (see the module's doc).
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Delta nodes that did not decode, passed over (the coordinator fails the run on them).
    pub fn damaged(&self) -> u64 {
        self.damaged
    }

    /// The deltas after the cursor, or a [`Restart`] and the deltas above the merge mark when
    /// the cursor fell behind the coordinator's deletions (see the module's doc).
    pub(crate) async fn read_following(
        &mut self,
        client: &Client,
    ) -> Result<DeltaRead, ClusterError> {
        let first = merge_mark::read_mark(client, &self.run).await?;
        let mut read = DeltaRead::default();
        if let Some((mark, _)) = &first {
            if self.suspect || behind(&self.agents, mark) {
                read.restart = Some(self.restart(client).await?);
            }
        }
        let before = self.agents.clone();
        read.deltas = self.read_new(client).await?;
        let last = merge_mark::read_mark(client, &self.run).await?;
        let version = |m: &Option<(MergeMark, i32)>| m.as_ref().map(|(_, v)| *v);
        if version(&first) != version(&last) {
            if let Some((mark, _)) = &last {
                self.suspect = behind(&before, mark);
            }
        }
        Ok(read)
    }

    /// Reads the merge mark's history and moves every cursor to that mark (it may be newer
    /// than the one that showed this reader behind).
    async fn restart(&mut self, client: &Client) -> Result<Restart, ClusterError> {
        let (mark, spans) = merge_mark::read(client, &self.run)
            .await?
            .unwrap_or_default();
        let mut agents = BTreeMap::new();
        self.agents.clear();
        for (agent, m) in &mark.agents {
            let agent = AgentId(agent.clone());
            let cursor = AgentCursor {
                last: Some(m.node.clone()),
            };
            self.agents.insert(agent.clone(), cursor);
            let folded = Folded {
                deltas: m.deltas,
                requests: m.requests,
            };
            agents.insert(agent, folded);
        }
        self.suspect = false;
        let spans = spans
            .into_iter()
            .map(|span| FoldedSpan {
                seconds: span.count,
                delta: IntervalDelta {
                    agent: 0,
                    window: span.first,
                    recorded: span.recorded,
                },
            })
            .collect();
        Ok(Restart { spans, agents })
    }

    /// The deltas after the cursor, oldest first per agent, and the cursor moved past them. A
    /// node that cannot be read for now (ZooKeeper did not answer) ends that agent's reading for
    /// this call: it is tried again on the next.
    pub(crate) async fn read_new(
        &mut self,
        client: &Client,
    ) -> Result<Vec<AgentDelta>, ClusterError> {
        let mut new = Vec::new();
        for agent in zk::children(client, &layout::run_reports(&self.run)).await? {
            let agent = AgentId(agent);
            let cursor = self.agents.entry(agent.clone()).or_default();
            for node in cursor.unread(client, &self.run, &agent).await? {
                match read_delta(client, &self.run, &agent, &node).await {
                    Ok(delta) => new.push(AgentDelta {
                        agent: agent.clone(),
                        delta,
                    }),
                    Err(ClusterError::Zk {
                        source: zookeeper_client::Error::NoNode,
                        ..
                    }) => self.missed += 1,
                    Err(ClusterError::Malformed { .. }) => self.damaged += 1,
                    Err(_) => break,
                }
                cursor.advance(node);
            }
        }
        Ok(new)
    }
}

/// Whether any agent's cursor is below its last node folded into `mark`.
fn behind(cursors: &BTreeMap<AgentId, AgentCursor>, mark: &MergeMark) -> bool {
    mark.agents.iter().any(|(agent, folded)| {
        let cursor = cursors.get(&AgentId(agent.clone()));
        cursor
            .and_then(|c| c.last.as_deref())
            .is_none_or(|last| last < folded.node.as_str())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::coordinator::merge_mark::AgentMark;

    fn mark(nodes: &[(&str, &str)]) -> MergeMark {
        MergeMark {
            agents: nodes
                .iter()
                .map(|(agent, node)| {
                    let folded = AgentMark {
                        node: (*node).into(),
                        ..AgentMark::default()
                    };
                    ((*agent).into(), folded)
                })
                .collect(),
            ..MergeMark::default()
        }
    }

    fn cursors(nodes: &[(&str, Option<&str>)]) -> BTreeMap<AgentId, AgentCursor> {
        nodes
            .iter()
            .map(|(agent, last)| {
                let cursor = AgentCursor {
                    last: last.map(Into::into),
                };
                (AgentId((*agent).into()), cursor)
            })
            .collect()
    }

    #[test]
    fn a_cursor_is_behind_when_any_agent_has_not_read_up_to_its_folded_node() {
        let folded = mark(&[("a", "d-0000000004"), ("b", "d-0000000003")]);
        let at = cursors(&[("a", Some("d-0000000004")), ("b", Some("d-0000000003"))]);
        let past = cursors(&[("a", Some("d-0000000009")), ("b", Some("d-0000000005"))]);
        assert!(!behind(&at, &folded) && !behind(&past, &folded));
        let one_short = cursors(&[("a", Some("d-0000000009")), ("b", Some("d-0000000002"))]);
        assert!(behind(&one_short, &folded));
        // Not reading an agent yet, or never having read one of its nodes, is behind too.
        assert!(behind(&cursors(&[("a", Some("d-0000000009"))]), &folded));
        let unread = cursors(&[("a", Some("d-0000000009")), ("b", None)]);
        assert!(behind(&unread, &folded));
        // An agent the mark does not name yet has nothing folded.
        assert!(!behind(&past, &mark(&[("a", "d-0000000001")])));
        assert!(!behind(&BTreeMap::new(), &MergeMark::default()));
    }
}
