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
//! **A reader behind the deletions** (and agents batching several windows per node): how it is
//! meant to catch up; not built yet (the coordinator resumes from the mark its own way,
//! `coordinator::supervise::restore`):
//! - Before deleting, the coordinator writes a merge mark next to the live view: per agent the
//!   last node it merged, and the merged windows up to there (the per-second sums
//!   [`crate::coordinator::merged_windows::MergedWindows`] hands the collector; histograms add,
//!   so they equal the deltas they replace). It deletes only nodes at or below the mark.
//! - [`super::Observer::deltas`] compares each agent's cursor with the mark. A cursor at or past
//!   it reads nodes as today. A reader behind it for any agent (it started late, or fell behind
//!   while nodes went) cannot rely on those nodes, so instead of deltas it is handed the merged
//!   windows up to the mark, to replace what it had built, and its cursor moves to the mark; it
//!   reads deltas above the mark from there. Node names are compared, never counted, so this
//!   needs nothing but the cursor as it is.
//! - Batched reports change only [`read_delta`] (one node, several windows) and what a node
//!   hands out.
//!
//! Until then, a node listed but gone by the time it is read, or gone before it was listed, is
//! missed; the first is counted in [`DeltaCursor::missed`].

use std::collections::BTreeMap;

use ptl_engine::record::{decode_delta, IntervalDelta};
use zookeeper_client::Client;

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
    let path = format!("{}/{node}", layout::agent_reports(run, agent));
    let (bytes, _) = client
        .get_data(&path)
        .await
        .map_err(|e| ClusterError::zk("read", &path, e))?;
    decode_delta(&bytes).map_err(|e| ClusterError::malformed("interval delta", &path, e))
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

/// A reader's place in one run's deltas, kept by the reader between calls to
/// [`super::Observer::deltas`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaCursor {
    run: RunId,
    agents: BTreeMap<AgentId, AgentCursor>,
    missed: u64,
    damaged: u64,
}

impl DeltaCursor {
    /// Before the run's first delta.
    pub fn new(run: RunId) -> DeltaCursor {
        DeltaCursor {
            run,
            agents: BTreeMap::new(),
            missed: 0,
            damaged: 0,
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
