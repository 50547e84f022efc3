//! Follows a run's assignment for one agent: each new epoch (a rebalance after an agent was
//! lost, or an agent joining) becomes a [`ShareChange`] for the engine, effective at the
//! epoch's instant converted to this machine's clock, so the survivors take over the lost share
//! mid-phase (and give part of it back to a joiner).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ptl_engine::coordination::ShareChange;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::ids::{AgentId, RunId};
use crate::run::assignment::Assignment;
use crate::zk::clock::{self, ClockOffset};
use crate::zk::durable::SessionHandle;
use crate::zk::json_watch::{self, WhenMissing};
use crate::zk::layout;

/// An epoch this agent applied: when it learnt of it (ZooKeeper clock, Unix ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EpochApplied {
    pub epoch: u32,
    pub applied_at_ms: i64,
}

/// The follower's side: the changes handed to the engine, and what was applied when.
pub struct ShareFollower {
    changes: watch::Receiver<Vec<ShareChange>>,
    applied: Arc<Mutex<Vec<EpochApplied>>>,
}

impl ShareFollower {
    /// Starts following from the assignment this agent started with (`epoch`, `rate_fraction`).
    /// The background task ends when every receiver of the changes is dropped, or the run or
    /// the session is gone.
    pub fn start(
        session: SessionHandle,
        run: RunId,
        agent: AgentId,
        offset: ClockOffset,
        epoch: u32,
        rate_fraction: f64,
    ) -> ShareFollower {
        Self::start_joined(session, run, agent, offset, epoch, rate_fraction, None)
    }

    /// As [`ShareFollower::start`], for an agent that joined the run with `rate_fraction` from
    /// `joined_at_ms` (ZooKeeper clock) on: the engine starts at the run's start with no share
    /// and gets that change first.
    pub fn start_joined(
        session: SessionHandle,
        run: RunId,
        agent: AgentId,
        offset: ClockOffset,
        epoch: u32,
        rate_fraction: f64,
        joined_at_ms: Option<i64>,
    ) -> ShareFollower {
        let initial = joined_at_ms
            .map(|at| ShareChange {
                at: local_instant(offset.to_local_ms(at)),
                rate_fraction,
            })
            .into_iter()
            .collect();
        let (tx, rx) = watch::channel(initial);
        let applied = Arc::new(Mutex::new(Vec::new()));
        let state = Followed {
            epoch,
            rate_fraction,
            applied: applied.clone(),
        };
        tokio::spawn(follow(session, run, agent, offset, state, tx));
        ShareFollower {
            changes: rx,
            applied,
        }
    }

    pub fn changes(&self) -> watch::Receiver<Vec<ShareChange>> {
        self.changes.clone()
    }

    pub fn applied(&self) -> Vec<EpochApplied> {
        self.applied.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

struct Followed {
    epoch: u32,
    rate_fraction: f64,
    applied: Arc<Mutex<Vec<EpochApplied>>>,
}

async fn follow(
    session: SessionHandle,
    run: RunId,
    agent: AgentId,
    offset: ClockOffset,
    mut state: Followed,
    tx: watch::Sender<Vec<ShareChange>>,
) {
    let path = layout::run_assignment(&run);
    json_watch::follow_json(
        &session,
        &path,
        WhenMissing::Stop,
        &tx,
        |assignment: Assignment, tx| apply(&assignment, &agent, offset, &mut state, tx),
    )
    .await;
}

/// A newer epoch changes this agent's fraction; an agent left out of it sends nothing more.
fn apply(
    assignment: &Assignment,
    agent: &AgentId,
    offset: ClockOffset,
    state: &mut Followed,
    tx: &watch::Sender<Vec<ShareChange>>,
) {
    if assignment.epoch <= state.epoch {
        return;
    }
    state.epoch = assignment.epoch;
    let fraction = assignment.share_of(agent).map_or(0.0, |s| s.rate_fraction);
    if fraction == state.rate_fraction {
        return;
    }
    state.rate_fraction = fraction;
    let change = ShareChange {
        at: local_instant(offset.to_local_ms(assignment.effective_at_ms)),
        rate_fraction: fraction,
    };
    tx.send_modify(|changes| changes.push(change));
    if let Ok(mut applied) = state.applied.lock() {
        applied.push(EpochApplied {
            epoch: assignment.epoch,
            applied_at_ms: clock::now_ms() - offset.offset_ms,
        });
    }
}

/// A wall-clock instant (Unix ms, this machine) on the monotonic clock; past ones included.
pub(crate) fn local_instant(local_ms: i64) -> Instant {
    let now = Instant::now();
    let ahead = local_ms - clock::now_ms();
    let by = Duration::from_millis(ahead.unsigned_abs());
    if ahead >= 0 {
        now + by
    } else {
        now.checked_sub(by).unwrap_or(now)
    }
}
