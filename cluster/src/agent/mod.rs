//! `ptl agent`: register, wait for runs that include this agent, start at the assigned instant
//! with the assigned share, stream interval deltas, and say when done. It sends only while its
//! lease holds ([`lease_keeper`]); when its session expires it registers again as a new agent
//! ([`session`]) and delivers what the old one could not.

pub mod coordination;
pub mod engine;
pub mod lease_keeper;
pub mod registry;
pub mod session;
pub mod share_changes;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use ptl_bytecode::Plan;
use ptl_engine::coordination::{BoxFuture, Coordination, ShareChange};
use ptl_engine::error::RuntimeError;
use ptl_engine::target_policy::TargetPolicy;
use ptl_engine::vm::AgentShare;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use zookeeper_client::Client;

use crate::access::Node;
use crate::agent::coordination::{write_delta, PendingDelta, Placement, ZkCoordination};
use crate::agent::session::Session;
use crate::agent::share_changes::EpochApplied;
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::plan_store;
use crate::run::assignment::Assignment;
use crate::run::{self, RunPhase};
use crate::signing::TrustedKeys;
use crate::zk::clock;
use crate::zk::layout;
use crate::zk::retry::retry;
use crate::zk::{self, ZkConfig};

/// What runs the load: the runtime's engine in production, anything that drives a
/// [`Coordination`] in tests. Returns when the agent's part of the run is over.
pub trait Engine: Send + Sync {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), RuntimeError>>;
}

#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub zk: ZkConfig,
    pub name: String,
    pub host: String,
    pub capacity: Option<f64>,
    pub labels: BTreeMap<String, String>,
    /// How often the agent looks for new runs when no watch fired (a safety net).
    pub poll: Duration,
    /// On shutdown during a run: finish it if it ends within this long, otherwise hand the
    /// share over at once (see [`DoneMarker::handed_over`]).
    pub drain_grace: Duration,
    /// Only runs signed by one of these keys are run (`--trusted-keys`); others are refused
    /// before anything is sent.
    pub trusted_keys: Option<Arc<TrustedKeys>>,
    /// Where and how fast this agent may send, whatever an assignment asks (`--allow-target`,
    /// `--max-rate`): a run that breaks it is refused before the engine starts.
    pub policy: TargetPolicy,
}

impl AgentConfig {
    pub fn new(zk: ZkConfig, name: impl Into<String>) -> AgentConfig {
        AgentConfig {
            zk,
            name: name.into(),
            host: "localhost".into(),
            capacity: None,
            labels: BTreeMap::new(),
            poll: Duration::from_secs(1),
            drain_grace: Duration::from_secs(20),
            trusted_keys: None,
            policy: TargetPolicy::default(),
        }
    }
}

/// The data of `/runs/<id>/done/<agent>`: the agent's own account of its part of the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DoneMarker {
    /// Delta nodes written.
    pub deltas: u64,
    /// Their data bytes.
    #[serde(default)]
    pub delta_bytes: u64,
    /// Requests completed in those deltas.
    #[serde(default)]
    pub requests: u64,
    /// When its start timer fired, ZooKeeper clock, Unix ms (none if it never started).
    #[serde(default)]
    pub started_at_ms: Option<i64>,
    /// When its engine returned, ZooKeeper clock, Unix ms: how long its last (partial) window
    /// was, and when its part of the run ended.
    #[serde(default)]
    pub ended_at_ms: Option<i64>,
    /// New epochs (rebalances) the agent applied during the run, and when.
    #[serde(default)]
    pub epochs: Vec<EpochApplied>,
    /// Arrivals not sent because the agent's lease had lapsed (it was paused or cut off).
    #[serde(default)]
    pub fenced: u64,
    /// The agent left the run before its end (shut down with more of the run left than its
    /// drain grace): everything it sent is reported, and the coordinator hands its share to
    /// the others at once, as for a lost agent.
    #[serde(default)]
    pub handed_over: bool,
    /// The engine's error, if it failed.
    pub error: Option<String>,
    /// The agent refused the run before sending anything (its target allow-list or rate cap):
    /// why. The coordinator treats it as a lost agent, by the run's loss policy, and shows
    /// the reason in `ptl status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// A rebalance raised the agent's share above its `--max-rate` mid-run: it sent at most
    /// the cap, and the arrivals above were never sent (counted so by the coordinator's
    /// accounting). Says so, for the run's verdict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capped: Option<String>,
}

/// A registered agent. Dropping it ends its session: its node vanishes.
pub struct Agent {
    config: AgentConfig,
    session: Session,
}

/// What a run left to deliver when the session it ran under ended: its deltas not written
/// yet and its done marker, for the run it ran in under the id it had then.
struct Undelivered {
    run: RunId,
    agent: AgentId,
    deltas: Vec<PendingDelta>,
    marker: DoneMarker,
}

impl Agent {
    pub async fn register(config: &AgentConfig) -> Result<Agent, ClusterError> {
        Ok(Agent {
            config: config.clone(),
            session: Session::open(config).await?,
        })
    }

    /// The id of the current registration (a new one after the session expired).
    pub fn id(&self) -> &AgentId {
        &self.session.id
    }

    /// Serves runs until `shutdown` is cancelled. ZooKeeper not answering is waited out; a
    /// session that expired is replaced by a new registration (a new agent id), after the
    /// deltas and the done marker of the run it was in are delivered from the new session.
    pub async fn serve(
        mut self,
        engine: Arc<dyn Engine>,
        poll: Duration,
        shutdown: CancellationToken,
    ) -> Result<(), ClusterError> {
        let mut handled: HashSet<(RunId, AgentId)> = HashSet::new();
        let mut undelivered: Vec<Undelivered> = Vec::new();
        loop {
            let served = self
                .serve_session(&engine, poll, &shutdown, &mut handled, &mut undelivered)
                .await;
            let error = match served {
                Ok(()) => return Ok(()),
                Err(e) if self.session.ended() || e.is_transient() => e,
                Err(e) => return Err(e),
            };
            if self.session.ended() {
                eprintln!(
                    "agent {}: ZooKeeper session ended ({error}); registering again as a new agent",
                    self.session.id
                );
                match Session::open_retrying(&self.config, &shutdown).await? {
                    Some(session) => self.session = session,
                    None => return Ok(()),
                }
                eprintln!(
                    "agent {}: registered again as {}",
                    self.config.name, self.session.id
                );
            } else {
                eprintln!(
                    "agent {}: ZooKeeper not answering ({error}); waiting",
                    self.session.id
                );
                tokio::select! {
                    _ = shutdown.cancelled() => return Ok(()),
                    _ = tokio::time::sleep(poll) => {}
                }
            }
        }
    }

    async fn serve_session(
        &self,
        engine: &Arc<dyn Engine>,
        poll: Duration,
        shutdown: &CancellationToken,
        handled: &mut HashSet<(RunId, AgentId)>,
        undelivered: &mut Vec<Undelivered>,
    ) -> Result<(), ClusterError> {
        let client = &self.session.client();
        while let Some(left) = undelivered.first() {
            deliver(client, left).await?;
            undelivered.remove(0);
        }
        loop {
            for id in run::list(client).await? {
                let key = (id.clone(), self.session.id.clone());
                if handled.contains(&key) {
                    continue;
                }
                let Ok(state) = run::state(client, &id).await else {
                    continue;
                };
                if state.phase.is_finished() {
                    handled.insert(key);
                    continue;
                }
                let assignment =
                    zk::get_json::<Assignment>(client, &layout::run_assignment(&id), "assignment")
                        .await?;
                // The coordinator writes the assignment, then marks the run running.
                let Some((assignment, _)) = assignment else {
                    continue;
                };
                if state.phase != RunPhase::Running {
                    continue;
                }
                // Not in it (yet): the coordinator may give us a share of it later, when an
                // agent of it is lost.
                if assignment.share_of(&self.session.id).is_none() {
                    continue;
                }
                handled.insert(key.clone());
                let ended = match self
                    .run_one(&id, &assignment, engine.clone(), shutdown)
                    .await
                {
                    Ok(ended) => ended,
                    Err(e) if e.is_transient() || self.session.ended() => {
                        // Not started: taken up again once ZooKeeper answers.
                        handled.remove(&key);
                        return Err(e);
                    }
                    Err(error) => {
                        // A run this agent cannot take part in (its plan unreadable, say):
                        // the coordinator sees no `done` from us and treats us as lost.
                        eprintln!("agent {}: run {id} failed: {error}", self.session.id);
                        continue;
                    }
                };
                if let Err(error) = ended.outcome {
                    // The coordinator sees no `done` from us and treats us as lost.
                    eprintln!("agent {}: run {id} failed: {error}", self.session.id);
                }
                if let Some(left) = ended.undelivered {
                    eprintln!(
                        "agent {}: {} delta(s) of run {id} wait for the next session",
                        self.session.id,
                        left.deltas.len()
                    );
                    undelivered.push(left);
                    return Err(ClusterError::SessionLost(format!(
                        "session ended during run {id}"
                    )));
                }
            }
            let (_, _, watcher) = client
                .get_and_watch_children(layout::RUNS)
                .await
                .map_err(|e| ClusterError::zk("watch", layout::RUNS, e))?;
            tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                _ = watcher.changed() => {}
                _ = tokio::time::sleep(poll) => {}
            }
        }
    }

    async fn run_one(
        &self,
        id: &RunId,
        assignment: &Assignment,
        engine: Arc<dyn Engine>,
        shutdown: &CancellationToken,
    ) -> Result<RunEnded, ClusterError> {
        let session = &self.session;
        let share = assignment
            .share_of(&session.id)
            .ok_or_else(|| ClusterError::Engine("not in the assignment".into()))?;
        let spec = run::spec(&session.client(), id).await?;
        // A plan that cannot be read as stored (a chunk altered or missing, a bytecode this
        // agent cannot run) is refused before anything is sent; ZooKeeper not answering is not.
        let bytecode = match plan_store::load(&session.client(), &spec.plan_hash).await {
            Ok(bytecode) => bytecode,
            Err(e) if e.is_transient() => return Err(e),
            Err(e) => return self.refuse(id, e.to_string()).await,
        };
        let plan = match ptl_bytecode::decode(&bytecode) {
            Ok(plan) => plan,
            Err(e) => {
                return self
                    .refuse(id, format!("the plan cannot be run here: {e}"))
                    .await
            }
        };
        if let Some(keys) = &self.config.trusted_keys {
            if let Err(reason) = keys.check(&spec, &plan) {
                return self.refuse(id, reason).await;
            }
        }
        let assigned = AgentShare {
            index: share.index,
            count: share.count,
            rate_fraction: share.rate_fraction,
            seq_base: share.seq_base,
        };
        // Judged on the URLs this machine resolves; a target variable it lacks stops the
        // engine below before anything is sent (the share goes to the others).
        if let Ok(resolved) = ptl_engine::target_env::resolve(&plan) {
            if let Err(refusal) = self.config.policy.check_plan(&resolved, &assigned).await {
                return self.refuse(id, refusal.to_string()).await;
            }
        }
        let start_at_ms = assignment.start_at_ms + share.start_offset_ms as i64;
        // A joiner walks the plan from the run's start with no share until its own begins.
        let joined = share.joined_at_ms.map(|at| (at, share.rate_fraction));
        let agent_share = AgentShare {
            index: share.index,
            count: share.count,
            rate_fraction: if joined.is_some() {
                0.0
            } else {
                share.rate_fraction
            },
            seq_base: share.seq_base,
        };
        let placement = Placement {
            run: id.clone(),
            agent: session.id.clone(),
            start_at_ms,
            offset: session.offset,
            share: agent_share,
            epoch: assignment.epoch,
            joined,
            lease: session.lease.clone(),
        };
        let ends_at_ms = start_at_ms + (plan.duration_us() / 1000) as i64;
        let max_fraction = self.config.policy.max_fraction(&plan);
        let (coordination, writer) = ZkCoordination::new(session.handle(), placement);
        let running = engine.run(plan, agent_share, coordination.clone());
        tokio::pin!(running);
        let mut handed_over = false;
        let outcome = loop {
            tokio::select! {
                outcome = &mut running => break outcome,
                _ = shutdown.cancelled(), if !handed_over => {
                    let left_ms = ends_at_ms - (clock::now_ms() - session.offset.offset_ms);
                    let grace_ms = self.config.drain_grace.as_millis() as i64;
                    if left_ms > grace_ms {
                        eprintln!(
                            "agent {}: shutting down; run {id} has {:.1} s left, more than the {:?} drain grace: handing its share over",
                            session.id,
                            left_ms as f64 / 1000.0,
                            self.config.drain_grace
                        );
                        handed_over = true;
                        coordination.hand_over();
                    } else {
                        eprintln!(
                            "agent {}: shutting down after run {id}, which ends in {:.1} s (within the drain grace)",
                            session.id,
                            left_ms.max(0) as f64 / 1000.0
                        );
                        // Decided: the rest of the run is served, then the agent stops.
                        break running.await;
                    }
                }
            }
        };
        // What this machine lacks (an `env(…)` variable, its own rules) stops the engine before
        // any request: the share is handed to the others, who may have it.
        let declined = matches!(
            outcome,
            Err(RuntimeError::Usage(_) | RuntimeError::Refused(_))
        );
        handed_over |= declined;
        let ended_at_ms = clock::now_ms() - session.offset.offset_ms;
        let marker = DoneMarker {
            deltas: 0,
            delta_bytes: 0,
            requests: coordination.reported_requests(),
            started_at_ms: coordination.started_at_ms(),
            ended_at_ms: Some(ended_at_ms),
            epochs: coordination.epochs_applied(),
            fenced: coordination.fenced(),
            handed_over,
            error: outcome.as_ref().err().map(ToString::to_string),
            refused: None,
            capped: self.capped(max_fraction, coordination.share_changes()),
        };
        // The engine has returned; dropping our handle lets the writer drain and finish.
        drop(coordination);
        let written = writer.finish().await?;
        let marker = DoneMarker {
            deltas: written.deltas + written.unwritten.len() as u64,
            delta_bytes: written.bytes
                + written
                    .unwritten
                    .iter()
                    .map(|(_, b)| b.len() as u64)
                    .sum::<u64>(),
            ..marker
        };
        let left = Undelivered {
            run: id.clone(),
            agent: session.id.clone(),
            deltas: written.unwritten,
            marker,
        };
        let undelivered = if left.deltas.is_empty() && !session.ended() {
            match deliver(&session.client(), &left).await {
                Ok(()) => None,
                Err(_) if session.ended() => Some(left),
                Err(e) => return Err(e),
            }
        } else {
            Some(left)
        };
        Ok(RunEnded {
            outcome: outcome.map_err(ClusterError::Run),
            undelivered,
        })
    }
}

impl Agent {
    /// What the cap held back, when a share change asked more than `max_fraction` of the plan.
    fn capped(
        &self,
        max_fraction: Option<f64>,
        changes: Option<tokio::sync::watch::Receiver<Vec<ShareChange>>>,
    ) -> Option<String> {
        let max_fraction = max_fraction?;
        let asked = changes?
            .borrow()
            .iter()
            .map(|c| c.rate_fraction)
            .fold(0.0, f64::max);
        (asked > max_fraction * (1.0 + 1e-9)).then(|| {
            format!(
                "a rebalance gave it {:.1}% of the plan's rate, above its --max-rate {}/s ({:.1}%): it sent at most the cap",
                asked * 100.0,
                self.config.policy.max_rate().unwrap_or_default(),
                max_fraction * 100.0
            )
        })
    }

    /// Takes no part in run `id`, for `reason`: says so in a done marker that hands the share
    /// over (the coordinator gives it to others, or the run ends degraded with the reason).
    async fn refuse(&self, id: &RunId, reason: String) -> Result<RunEnded, ClusterError> {
        eprintln!("agent {}: refusing run {id}: {reason}", self.session.id);
        let left = Undelivered {
            run: id.clone(),
            agent: self.session.id.clone(),
            deltas: Vec::new(),
            marker: DoneMarker {
                deltas: 0,
                delta_bytes: 0,
                requests: 0,
                started_at_ms: None,
                ended_at_ms: None,
                epochs: Vec::new(),
                fenced: 0,
                handed_over: true,
                error: Some(format!("refused: {reason}")),
                refused: Some(reason.clone()),
                capped: None,
            },
        };
        deliver(&self.session.client(), &left).await?;
        Ok(RunEnded {
            outcome: Err(ClusterError::Refused {
                run: id.to_string(),
                reason,
            }),
            undelivered: None,
        })
    }
}

/// How one run ended for this agent.
struct RunEnded {
    outcome: Result<(), ClusterError>,
    /// Set when the session ended before everything was delivered.
    undelivered: Option<Undelivered>,
}

/// Writes what a run left: its deltas (idempotent per window), then its done marker.
async fn deliver(client: &Client, left: &Undelivered) -> Result<(), ClusterError> {
    let mut acl = None;
    for (window, bytes) in &left.deltas {
        write_delta(client, &left.run, &left.agent, *window, bytes, &mut acl).await?;
    }
    let done = layout::agent_done(&left.run, &left.agent);
    retry(None, || {
        zk::put_json(client, &done, &left.marker, "agent done", Node::AgentOwned)
    })
    .await
    .map(|_| ())
}

/// Registers and serves until `shutdown` is cancelled: what `ptl agent` runs.
pub async fn run_agent(
    config: AgentConfig,
    engine: Arc<dyn Engine>,
    shutdown: CancellationToken,
) -> Result<(), ClusterError> {
    let poll = config.poll;
    Agent::register(&config)
        .await?
        .serve(engine, poll, shutdown)
        .await
}
