//! The engine's [`Coordination`] backed by ZooKeeper, for one agent in one run: the start
//! instant comes from the assignment (converted from ZooKeeper's clock with the agent's
//! measured offset), a stop is the run's state turning `stopping`, and every interval delta is
//! queued and written by a background task as a node named by its window, which the
//! coordinator merges. Writes ride out a lost connection (retried; rewriting a window is
//! idempotent); deltas the session could not deliver before it ended are handed back, for the
//! agent to deliver from its next session. The engine sends only while the agent's lease holds
//! ([`Coordination::lease`]). A
//! rebalance (a new epoch of the assignment) changes the share mid-run ([`ShareFollower`]), and
//! the run's pause windows hold and release the schedules ([`crate::run::pauses::follow`]).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ptl_engine::coordination::{BoxFuture, Coordination, Pause, ShareChange};
use ptl_engine::error::RuntimeError;
use ptl_engine::lease::Lease;
use ptl_engine::record::{encode_delta, IntervalDelta};
use ptl_engine::vm::AgentShare;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use zookeeper_client::{Acl, Client, Error as ZkError};

use crate::zk::durable::SessionHandle;

use crate::access::{self, Node};
use crate::agent::share_changes::{self, EpochApplied, ShareFollower};
use crate::error::ClusterError;
use crate::ids::{AgentId, RunId};
use crate::run::pauses;
use crate::run::{RunPhase, RunState};
use crate::zk;
use crate::zk::clock::{self, ClockOffset};
use crate::zk::layout;
use crate::zk::retry::retry;

/// One agent's place in one run, as the assignment gives it.
#[derive(Debug, Clone)]
pub struct Placement {
    pub run: RunId,
    pub agent: AgentId,
    /// This agent's start, ZooKeeper clock, Unix ms (run start plus any stagger).
    pub start_at_ms: i64,
    pub offset: ClockOffset,
    pub share: AgentShare,
    /// The assignment's epoch the share comes from.
    pub epoch: u32,
    /// For an agent that joined mid-run: when its share begins (ZooKeeper clock, Unix ms).
    /// `start_at_ms` is then the run's start, already past, and `share` has no rate: the engine
    /// walks the plan from the run's start, sending nothing until the share begins.
    pub joined: Option<(i64, f64)>,
    /// The agent's lease on its session: no arrival goes out while it has lapsed.
    pub lease: Arc<Lease>,
}

pub struct ZkCoordination {
    session: SessionHandle,
    run: RunId,
    share: AgentShare,
    follower: ShareFollower,
    /// The run's pauses on this machine's clock, kept up to date by a follower task.
    pauses: watch::Receiver<Vec<Pause>>,
    /// This agent's start, ZooKeeper clock, Unix ms (run start plus any stagger).
    start_at_ms: i64,
    offset: ClockOffset,
    deltas: mpsc::UnboundedSender<PendingDelta>,
    lease: Arc<Lease>,
    /// The lease's refusals when the run began (the lease outlives runs).
    refused_before: u64,
    /// Stops this agent's part of the run (the agent shuts down and hands its share over).
    handover: CancellationToken,
    /// When this agent's start timer fired, ZooKeeper clock, Unix ms (`i64::MIN` until then).
    started_at_ms: Arc<AtomicI64>,
    /// Requests completed in every delta handed to [`Coordination::report`].
    reported_requests: AtomicU64,
    /// A start in the past is kept (a joiner's timeline is the run's); otherwise a start
    /// missed is now.
    catch_up: bool,
}

/// Writes queued deltas in order; finishes when the coordination is dropped and the queue drained.
pub struct DeltaWriter {
    task: tokio::task::JoinHandle<Result<Written, ClusterError>>,
}

/// A delta not written yet: its window and its encoded bytes.
pub type PendingDelta = (u64, Vec<u8>);

/// What a [`DeltaWriter`] wrote to ZooKeeper, and what it could not.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Written {
    pub deltas: u64,
    /// Data bytes of the delta nodes (what this agent's reports cost ZooKeeper).
    pub bytes: u64,
    /// Deltas left when the session ended (or the run's node went), oldest first: the agent
    /// delivers them from its next session.
    pub unwritten: Vec<PendingDelta>,
}

impl DeltaWriter {
    /// Waits for every queued delta to be written or set aside; returns how many were written
    /// and their size, and the ones that were not.
    pub async fn finish(self) -> Result<Written, ClusterError> {
        self.task
            .await
            .map_err(|e| ClusterError::Engine(format!("delta writer: {e}")))?
    }
}

/// Writes one delta node, riding out lost connections; a node already there (written before
/// the connection dropped, or by an earlier session) counts as written. Fails when the session
/// ended or the run is gone. `acl` caches the deltas' ACL, looked up on the first write.
pub async fn write_delta(
    client: &Client,
    run: &RunId,
    agent: &AgentId,
    window: u64,
    bytes: &[u8],
    acl: &mut Option<Vec<Acl>>,
) -> Result<(), ClusterError> {
    if acl.is_none() {
        *acl = Some(retry(None, || access::policy::acl_for(client, Node::Delta, None)).await?);
    }
    let acl = acl.as_deref().unwrap_or_default();
    let path = layout::report_node(run, agent, window);
    let create = || zk::create_with(client, &path, bytes, Node::Delta, acl);
    match retry(None, create).await {
        Err(ClusterError::Zk {
            source: ZkError::NoNode,
            ..
        }) => {
            // The coordinator makes the agent's folder with the assignment; one from before
            // that rule, in an open chroot, comes with the first delta.
            let dir = layout::agent_reports(run, agent);
            retry(None, || {
                zk::create_if_missing(client, &dir, b"", Node::AgentOwned)
            })
            .await?;
            retry(None, create).await.map(|_| ())
        }
        other => other.map(|_| ()),
    }
}

impl ZkCoordination {
    pub fn new(session: SessionHandle, placement: Placement) -> (Arc<ZkCoordination>, DeltaWriter) {
        let Placement {
            run,
            agent,
            start_at_ms,
            offset,
            share,
            epoch,
            joined,
            lease,
        } = placement;
        let follower = match joined {
            Some((at_ms, rate_fraction)) => ShareFollower::start_joined(
                session.clone(),
                run.clone(),
                agent.clone(),
                offset,
                epoch,
                rate_fraction,
                Some(at_ms),
            ),
            None => ShareFollower::start(
                session.clone(),
                run.clone(),
                agent.clone(),
                offset,
                epoch,
                share.rate_fraction,
            ),
        };
        let pauses = pauses::follow(session.clone(), run.clone(), offset);
        let (tx, mut rx) = mpsc::unbounded_channel::<PendingDelta>();
        let mut writer_session = session.clone();
        let (writer_run, writer_agent) = (run.clone(), agent.clone());
        let task = tokio::spawn(async move {
            let mut written = Written::default();
            let mut session_gone = false;
            let mut acl = None;
            'deltas: while let Some((window, bytes)) = rx.recv().await {
                while !session_gone {
                    let client = writer_session.client();
                    let write = write_delta(
                        &client,
                        &writer_run,
                        &writer_agent,
                        window,
                        &bytes,
                        &mut acl,
                    );
                    match write.await {
                        Ok(()) => {
                            written.deltas += 1;
                            written.bytes += bytes.len() as u64;
                            continue 'deltas;
                        }
                        // The client gave up; the session may resume on a new one.
                        Err(e) if e.ends_client() => {
                            session_gone = writer_session.next_client().await.is_none();
                        }
                        Err(_) => session_gone = true,
                    }
                }
                written.unwritten.push((window, bytes));
            }
            Ok(written)
        });
        let coordination = ZkCoordination {
            session,
            run,
            share,
            follower,
            pauses,
            start_at_ms,
            offset,
            deltas: tx,
            refused_before: lease.refused(),
            handover: CancellationToken::new(),
            lease,
            started_at_ms: Arc::new(AtomicI64::new(i64::MIN)),
            reported_requests: AtomicU64::new(0),
            catch_up: joined.is_some(),
        };
        (Arc::new(coordination), DeltaWriter { task })
    }

    /// When this agent actually started (its start timer fired), on ZooKeeper's clock: what
    /// the start skew across agents is measured from. `None` before the start.
    pub fn started_at_ms(&self) -> Option<i64> {
        Some(self.started_at_ms.load(Ordering::Acquire)).filter(|&t| t != i64::MIN)
    }

    /// The new epochs this agent applied during the run, and when.
    pub fn epochs_applied(&self) -> Vec<EpochApplied> {
        self.follower.applied()
    }

    /// Stops this agent's part of the run now (its engine stops as for `ptl stop`, reporting
    /// everything it sent); the coordinator gives the share to the others.
    pub fn hand_over(&self) {
        self.handover.cancel();
    }

    /// Arrivals of this run dropped because the lease had lapsed.
    pub fn fenced(&self) -> u64 {
        self.lease.refused().saturating_sub(self.refused_before)
    }

    /// Requests completed in the deltas reported so far (what this agent sent and saw end).
    pub fn reported_requests(&self) -> u64 {
        self.reported_requests.load(Ordering::Acquire)
    }

    /// The start on this machine's monotonic clock.
    fn local_start(&self) -> Instant {
        let local_ms = self.offset.to_local_ms(self.start_at_ms);
        if self.catch_up {
            return share_changes::local_instant(local_ms);
        }
        let ahead = local_ms - clock::now_ms();
        let now = Instant::now();
        if ahead > 0 {
            now + Duration::from_millis(ahead as u64)
        } else {
            now
        }
    }
}

impl Coordination for ZkCoordination {
    fn share(&self) -> AgentShare {
        self.share
    }

    fn share_changes(&self) -> Option<watch::Receiver<Vec<ShareChange>>> {
        Some(self.follower.changes())
    }

    fn pauses(&self) -> Option<watch::Receiver<Vec<Pause>>> {
        Some(self.pauses.clone())
    }

    fn start(&self) -> BoxFuture<'_, Result<Instant, RuntimeError>> {
        let at = self.local_start();
        // The engine's workers sleep until `at` on their own threads; a timer here on the same
        // instant records when that was, converted back to ZooKeeper's clock.
        let started = self.started_at_ms.clone();
        let offset = self.offset;
        tokio::spawn(async move {
            tokio::time::sleep_until(at.into()).await;
            started.store(clock::now_ms() - offset.offset_ms, Ordering::Release);
        });
        Box::pin(async move { Ok(at) })
    }

    fn stopped(&self) -> BoxFuture<'_, String> {
        Box::pin(async move {
            let path = layout::run_state(&self.run);
            let mut session = self.session.clone();
            loop {
                if self.handover.is_cancelled() {
                    return "the agent shut down and handed its share over".into();
                }
                match session.client().get_and_watch_data(&path).await {
                    Ok((data, _, watcher)) => {
                        if let Ok(state) = serde_json::from_slice::<RunState>(&data) {
                            if matches!(state.phase, RunPhase::Stopping | RunPhase::Failed) {
                                return state.reason.unwrap_or_else(|| "stopped".into());
                            }
                        }
                        tokio::select! {
                            _ = watcher.changed() => {}
                            _ = self.handover.cancelled() => {}
                        }
                    }
                    Err(zookeeper_client::Error::NoNode) => return "the run was deleted".into(),
                    Err(e)
                        if e == zookeeper_client::Error::SessionExpired
                            || e == zookeeper_client::Error::ClientClosed =>
                    {
                        if session.next_client().await.is_none() {
                            return format!("ZooKeeper session ended: {e}");
                        }
                    }
                    Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
                }
            }
        })
    }

    fn report(&self, delta: &IntervalDelta) {
        // Encoding cannot fail for a delta the engine built; if it ever does, the coordinator
        // sees a short count rather than the engine stalling.
        let requests: u64 = delta.recorded.request.iter().map(|r| r.completed).sum();
        self.reported_requests.fetch_add(requests, Ordering::AcqRel);
        if let Ok(bytes) = encode_delta(delta) {
            let _ = self.deltas.send((delta.window, bytes));
        }
    }

    fn lease(&self) -> Option<Arc<Lease>> {
        Some(self.lease.clone())
    }

    fn local_abort_thresholds(&self) -> bool {
        false
    }
}
