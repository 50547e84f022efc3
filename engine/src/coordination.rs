//! What the engine needs from outside a single process: when to start, when to stop, and
//! where its once-a-second interval deltas go. A cluster implements [`Coordination`] (agents
//! agree on a start instant, a controller can stop them all, deltas travel to whoever merges
//! them); [`Embedded`] is the trivial one `ptl run` uses.
//!
//! A cluster may also change an agent's share of the rate mid-run ([`ShareChange`]), when
//! survivors take over a lost agent's load.
//!
//! A run may also be paused and resumed ([`Pause`]): the schedules hold (no arrival is due
//! while paused) and continue where they were, every planned instant after the pause moved by
//! its length.
//!
//! An agent of a cluster sends only while it holds a [`Lease`] (no zombie load after a pause
//! or a partition).
//!
//! Also here: the stop signal ([`stop_channel`]) callers use for Ctrl-C and `ptl stop`, and
//! the pause control ([`pause_channel`]) a local run's dashboard uses.

use crate::error::RuntimeError;
use crate::lease::Lease;
use crate::record::IntervalDelta;
use crate::vm::AgentShare;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// From `at` on (this machine's monotonic clock), this agent sends `rate_fraction` of every
/// open phase's rate. `at` may be past: the arrivals due since then are sent at once, late,
/// and measured from their intended times.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ShareChange {
    pub at: Instant,
    pub rate_fraction: f64,
}

pub trait Coordination: Send + Sync {
    /// This agent's part of the run (its slice of rates, users, `seq()` and CSV rows).
    fn share(&self) -> AgentShare;

    /// Waits until the run may start and returns its start: the instant phase 0 begins on
    /// this machine's monotonic clock. Called once, after the engine's workers are up.
    fn start(&self) -> BoxFuture<'_, Result<Instant, RuntimeError>>;

    /// Resolves with a reason when the whole run must stop early (`ptl stop`, an `abort`
    /// threshold crossed on the cluster's merged data). May never resolve.
    fn stopped(&self) -> BoxFuture<'_, String>;

    /// Receives this agent's delta of every one-second window, then a last one (possibly
    /// shorter) when the agent finishes. Must not block: queue the delta and return.
    fn report(&self, delta: &IntervalDelta);

    /// Whether `abort` thresholds are evaluated on this agent's own data. A cluster answers
    /// false and evaluates them on the merged data, stopping agents through [`stopped`].
    ///
    /// [`stopped`]: Coordination::stopped
    fn local_abort_thresholds(&self) -> bool {
        true
    }

    /// Every change of this agent's share so far, oldest first, updated as more come; `None`
    /// when the share never changes. Every worker applies every change, in order, at its own
    /// `at`, so the workers keep agreeing on the schedule (and so on its count). Closed-model
    /// (`users`) phases keep their users.
    fn share_changes(&self) -> Option<watch::Receiver<Vec<ShareChange>>> {
        None
    }

    /// Every pause of the run so far, oldest first, updated as more come (a pause gets its
    /// `until` when resumed); `None` when the run is never paused from outside. Like share
    /// changes, every worker applies every pause at its own instants, so the workers keep
    /// agreeing on the schedule.
    fn pauses(&self) -> Option<watch::Receiver<Vec<Pause>>> {
        None
    }

    /// What every worker asks before it starts an iteration (see [`Lease`]); `None` when
    /// this agent may always send (`ptl run`).
    fn lease(&self) -> Option<Arc<Lease>> {
        None
    }
}

/// A hold of the run's schedules, on this machine's monotonic clock: from `at` no arrival is
/// due and no closed-model user starts an iteration, until `until` (`None`: still paused).
/// Requests already in flight finish. After `until` every planned instant is later by the
/// pause's length, so phases keep their planned lengths of running time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    pub at: Instant,
    pub until: Option<Instant>,
}

/// Pauses and resumes a local run (a dashboard's buttons). Cheap to clone.
#[derive(Debug, Clone)]
pub struct PauseHandle {
    tx: watch::Sender<Vec<Pause>>,
}

impl PauseHandle {
    /// Pauses now. False if the run is already paused.
    pub fn pause(&self) -> bool {
        let now = Instant::now();
        self.tx.send_if_modified(|pauses| {
            if pauses.last().is_some_and(|p| p.until.is_none()) {
                return false;
            }
            pauses.push(Pause {
                at: now,
                until: None,
            });
            true
        })
    }

    /// Resumes now. False if the run is not paused.
    pub fn resume(&self) -> bool {
        let now = Instant::now();
        self.tx.send_if_modified(|pauses| match pauses.last_mut() {
            Some(p) if p.until.is_none() => {
                p.until = Some(now.max(p.at));
                true
            }
            _ => false,
        })
    }

    /// Whether the run is paused now.
    pub fn is_paused(&self) -> bool {
        self.tx.borrow().last().is_some_and(|p| p.until.is_none())
    }
}

/// A pause handle and the receiver the engine takes (`RunOptions::pauses`).
pub fn pause_channel() -> (PauseHandle, watch::Receiver<Vec<Pause>>) {
    let (tx, rx) = watch::channel(Vec::new());
    (PauseHandle { tx }, rx)
}

/// A single agent in this process: start shortly after the workers are up (so that the first
/// arrivals are not late because threads were still starting), never stopped from outside,
/// deltas go nowhere (the engine merges them itself).
#[derive(Debug, Clone)]
pub struct Embedded {
    pub share: AgentShare,
    pub start_delay: Duration,
}

impl Default for Embedded {
    fn default() -> Self {
        Embedded {
            share: AgentShare::solo(),
            start_delay: Duration::from_millis(20),
        }
    }
}

impl Coordination for Embedded {
    fn share(&self) -> AgentShare {
        self.share
    }

    fn start(&self) -> BoxFuture<'_, Result<Instant, RuntimeError>> {
        let at = Instant::now() + self.start_delay;
        Box::pin(async move { Ok(at) })
    }

    fn stopped(&self) -> BoxFuture<'_, String> {
        Box::pin(std::future::pending())
    }

    fn report(&self, _delta: &IntervalDelta) {}
}

/// Asks a running engine to stop (Ctrl-C, `ptl stop`). Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopHandle {
    tx: watch::Sender<Option<String>>,
}

impl StopHandle {
    /// Stops the run with this reason. Only the first reason is kept.
    pub fn stop(&self, reason: impl Into<String>) {
        let reason = reason.into();
        self.tx.send_if_modified(|current| {
            if current.is_none() {
                *current = Some(reason);
                true
            } else {
                false
            }
        });
    }
}

/// The engine's side of a stop request.
#[derive(Debug, Clone)]
pub struct StopSignal {
    rx: watch::Receiver<Option<String>>,
}

impl StopSignal {
    /// The reason, if stop was asked for.
    pub fn reason(&self) -> Option<String> {
        self.rx.borrow().clone()
    }

    /// Resolves when stop is asked for (at once if it already was). If every handle is
    /// dropped without stopping, never resolves.
    pub async fn stopped(&mut self) -> String {
        loop {
            if let Some(r) = self.rx.borrow_and_update().clone() {
                return r;
            }
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

pub fn stop_channel() -> (StopHandle, StopSignal) {
    let (tx, rx) = watch::channel(None);
    (StopHandle { tx }, StopSignal { rx })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_reason_wins_and_late_listeners_see_it() {
        let (h, s) = stop_channel();
        assert_eq!(s.reason(), None);
        h.stop("ctrl-c");
        h.clone().stop("later");
        let mut late = s.clone();
        assert_eq!(late.stopped().await, "ctrl-c");
    }

    #[test]
    fn pauses_alternate_with_resumes() {
        let (h, rx) = pause_channel();
        assert!(!h.resume(), "nothing to resume");
        assert!(h.pause());
        assert!(h.is_paused());
        assert!(!h.pause(), "already paused");
        assert!(h.resume());
        assert!(!h.is_paused());
        assert!(h.pause());
        let pauses = rx.borrow().clone();
        assert_eq!(pauses.len(), 2);
        assert!(pauses[0].until.is_some_and(|u| u >= pauses[0].at));
        assert!(pauses[1].at >= pauses[0].until.unwrap_or(pauses[0].at));
        assert_eq!(pauses[1].until, None);
    }
}
