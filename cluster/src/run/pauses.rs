//! Pausing and resuming a cluster run. The run's pause windows live in `/runs/<id>/pauses`
//! (ZooKeeper clock, Unix ms), updated read-modify-write with a version check like the state.
//! A pause or a resume is written for an instant a little ahead (the control lead), so every
//! agent hears of it before it is due and all of them hold, and go on, at the same plan time.
//! Each agent follows the node ([`follow`]) and hands the windows, converted to its own
//! monotonic clock, to its engine (`Coordination::pauses`).

use std::time::Duration;

use ptl_engine::coordination::Pause;
use ptl_engine::runner::pause_clock::PauseClock;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use zookeeper_client::{Client, Error as ZkError};

use crate::access::Node;
use crate::agent::share_changes::local_instant;
use crate::error::ClusterError;
use crate::ids::RunId;
use crate::run::assignment::Assignment;
use crate::run::{self, RunPhase, RunSpec};
use crate::zk;
use crate::zk::clock::{self, ClockOffset};
use crate::zk::durable::SessionHandle;
use crate::zk::json_watch::{self, WhenMissing};
use crate::zk::layout;

/// Bounds of the control lead: at least long enough for a watch to reach every agent, at most
/// a second so the operator is not kept waiting (the run's start delay in between).
const MIN_LEAD_MS: u64 = 200;
const MAX_LEAD_MS: u64 = 1000;

/// One hold of the run, ZooKeeper clock, Unix ms: from `at_ms` until `until_ms` (`None`: still
/// paused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseWindow {
    pub at_ms: i64,
    pub until_ms: Option<i64>,
}

/// What a pause or resume request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PauseChange {
    /// The run holds from the window's `at_ms`.
    Paused(PauseWindow),
    /// It was paused already (this window); nothing was written.
    AlreadyPaused(PauseWindow),
    /// The run goes on from the window's `until_ms`.
    Resumed(PauseWindow),
    /// It was not paused; nothing was written.
    NotPaused,
}

/// How far ahead a pause or resume of this run is written.
pub fn control_lead(spec: &RunSpec) -> Duration {
    Duration::from_millis(spec.start_delay_ms.clamp(MIN_LEAD_MS, MAX_LEAD_MS))
}

/// Whether the last window is still open (the run is paused, or about to be).
pub fn is_paused(windows: &[PauseWindow]) -> bool {
    windows.last().is_some_and(|w| w.until_ms.is_none())
}

/// The windows with a new one opened at `at_ms` (never before the previous one ended, so they
/// stay ordered and apart); `None` when the last one is still open.
pub fn with_pause(windows: &[PauseWindow], at_ms: i64) -> Option<Vec<PauseWindow>> {
    if is_paused(windows) {
        return None;
    }
    let earliest = windows.last().and_then(|w| w.until_ms).unwrap_or(i64::MIN);
    let mut next = windows.to_vec();
    next.push(PauseWindow {
        at_ms: at_ms.max(earliest),
        until_ms: None,
    });
    Some(next)
}

/// The windows with the open one closed at `until_ms` (never before it began); `None` when
/// none is open.
pub fn with_resume(windows: &[PauseWindow], until_ms: i64) -> Option<Vec<PauseWindow>> {
    let mut next = windows.to_vec();
    let last = next.last_mut().filter(|w| w.until_ms.is_none())?;
    last.until_ms = Some(until_ms.max(last.at_ms));
    Some(next)
}

/// Milliseconds of `[from_ms, to_ms]` spent paused (an open window runs to `to_ms`).
pub fn paused_ms(windows: &[PauseWindow], from_ms: i64, to_ms: i64) -> i64 {
    windows
        .iter()
        .map(|w| {
            let start = w.at_ms.max(from_ms);
            let end = w.until_ms.unwrap_or(to_ms).min(to_ms);
            (end - start).max(0)
        })
        .sum()
}

/// The windows on a run's own clock (µs from its start), as the runtime's engine counts them.
pub fn clock(windows: &[PauseWindow], start_at_ms: i64) -> PauseClock {
    let micros = |ms: i64| (ms.saturating_sub(start_at_ms).max(0) as u64).saturating_mul(1000);
    PauseClock::new(
        windows
            .iter()
            .map(|w| (micros(w.at_ms), w.until_ms.map(micros))),
    )
}

/// The run's pause windows, oldest first (none when never paused).
pub async fn windows(client: &Client, id: &RunId) -> Result<Vec<PauseWindow>, ClusterError> {
    Ok(
        zk::get_json(client, &layout::run_pauses(id), "pause windows")
            .await?
            .map(|(w, _)| w)
            .unwrap_or_default(),
    )
}

/// Pauses a running run from a little ahead of now; a run not running is an error.
pub async fn pause(client: &Client, id: &RunId) -> Result<PauseChange, ClusterError> {
    let (now_ms, lead, start_at_ms) = prepare(client, id, "pause").await?;
    let at_ms = (now_ms + lead).max(start_at_ms);
    let mut current = None;
    let written = update(client, id, |windows| {
        current = windows.last().copied();
        with_pause(windows, at_ms)
    })
    .await?;
    Ok(match written {
        Some(w) => PauseChange::Paused(w),
        None => current.map_or(PauseChange::NotPaused, PauseChange::AlreadyPaused),
    })
}

/// Resumes a paused run from a little ahead of now; a run not running is an error.
pub async fn resume(client: &Client, id: &RunId) -> Result<PauseChange, ClusterError> {
    let (now_ms, lead, _) = prepare(client, id, "resume").await?;
    let written = update(client, id, |windows| with_resume(windows, now_ms + lead)).await?;
    Ok(written.map_or(PauseChange::NotPaused, PauseChange::Resumed))
}

/// Checks that the run may be paused or resumed; returns ZooKeeper's clock now, the lead and
/// the run's start.
async fn prepare(
    client: &Client,
    id: &RunId,
    verb: &'static str,
) -> Result<(i64, i64, i64), ClusterError> {
    let spec = run::spec(client, id).await?;
    let state = run::state(client, id).await?;
    let refuse = |why: &str| ClusterError::CannotControl {
        verb,
        run: id.to_string(),
        why: why.to_owned(),
    };
    match state.phase {
        RunPhase::Running => {}
        RunPhase::Pending => return Err(refuse("it has not started yet (pending)")),
        RunPhase::Stopping => return Err(refuse("it is stopping")),
        RunPhase::Done => return Err(refuse("it has finished")),
        RunPhase::Failed => return Err(refuse("it has failed")),
    }
    let path = layout::run_assignment(id);
    let (assignment, _) = zk::get_json::<Assignment>(client, &path, "assignment")
        .await?
        .ok_or_else(|| ClusterError::malformed("assignment", &path, "missing for a running run"))?;
    // The instants are ZooKeeper's, whatever this machine's clock says.
    let offset = clock::measure(client, &format!("control-{}", std::process::id()), 1).await?;
    let now_ms = clock::now_ms() - offset.offset_ms;
    let lead = i64::try_from(control_lead(&spec).as_millis()).unwrap_or(i64::MAX);
    Ok((now_ms, lead, assignment.start_at_ms))
}

/// Read-modify-write of the windows with a version check, retried on conflict; `change`
/// returns `None` to leave them. Returns the window written last, if any was.
async fn update(
    client: &Client,
    id: &RunId,
    mut change: impl FnMut(&[PauseWindow]) -> Option<Vec<PauseWindow>>,
) -> Result<Option<PauseWindow>, ClusterError> {
    let path = layout::run_pauses(id);
    loop {
        let found = zk::get_json::<Vec<PauseWindow>>(client, &path, "pause windows").await?;
        let (windows, version) = match &found {
            Some((w, stat)) => (w.as_slice(), Some(stat.version)),
            None => (&[][..], None),
        };
        let Some(next) = change(windows) else {
            return Ok(None);
        };
        let data = zk::to_json(&next, "pause windows", &path)?;
        let outcome = match version {
            Some(v) => client.set_data(&path, &data, Some(v)).await.map(|_| ()),
            None => match zk::create_if_missing(client, &path, &data, Node::RunControl).await {
                Ok(true) => Ok(()),
                Ok(false) => Err(ZkError::NodeExists),
                Err(e) => return Err(e),
            },
        };
        match outcome {
            Ok(()) => return Ok(next.last().copied()),
            Err(ZkError::BadVersion | ZkError::NodeExists | ZkError::NoNode) => continue,
            Err(e) => return Err(ClusterError::zk("write", &path, e)),
        }
    }
}

/// Follows the run's pause windows for one agent, on this machine's monotonic clock. Each
/// instant is converted once, when first seen, so an engine never sees a pause move. The task
/// ends when every receiver is dropped, or the run or the session is gone.
pub fn follow(
    session: SessionHandle,
    run: RunId,
    offset: ClockOffset,
) -> watch::Receiver<Vec<Pause>> {
    let (tx, rx) = watch::channel(Vec::new());
    tokio::spawn(async move {
        let path = layout::run_pauses(&run);
        // Not paused yet: a run created before pauses existed has no node.
        json_watch::follow_json(
            &session,
            &path,
            WhenMissing::Wait,
            &tx,
            |windows: Vec<PauseWindow>, tx| {
                tx.send_if_modified(|pauses| convert(&windows, offset, pauses));
            },
        )
        .await;
    });
    rx
}

/// Brings `pauses` up to `windows`, converting only what is new; true if anything changed.
fn convert(windows: &[PauseWindow], offset: ClockOffset, pauses: &mut Vec<Pause>) -> bool {
    let local = |ms: i64| local_instant(offset.to_local_ms(ms));
    let mut changed = false;
    for (i, window) in windows.iter().enumerate() {
        match pauses.get_mut(i) {
            Some(pause) => {
                if let (None, Some(until)) = (pause.until, window.until_ms) {
                    pause.until = Some(local(until).max(pause.at));
                    changed = true;
                }
            }
            None => {
                let at = local(window.at_ms);
                pauses.push(Pause {
                    at,
                    until: window.until_ms.map(|u| local(u).max(at)),
                });
                changed = true;
            }
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Pause(i64),
        Resume(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0i64..100_000).prop_map(Op::Pause),
            (0i64..100_000).prop_map(Op::Resume),
        ]
    }

    proptest! {
        /// Whatever the order and instants of requests, the windows stay ordered, apart and
        /// well-formed, at most the last is open, and pause/resume alternate.
        #[test]
        fn windows_stay_ordered_and_apart(ops in proptest::collection::vec(op(), 0..40)) {
            let mut windows: Vec<PauseWindow> = Vec::new();
            for op in ops {
                let paused = is_paused(&windows);
                let next = match op {
                    Op::Pause(at) => with_pause(&windows, at),
                    Op::Resume(until) => with_resume(&windows, until),
                };
                match (&op, next) {
                    (Op::Pause(_), Some(n)) => { prop_assert!(!paused); prop_assert!(is_paused(&n)); windows = n; }
                    (Op::Resume(_), Some(n)) => { prop_assert!(paused); prop_assert!(!is_paused(&n)); windows = n; }
                    (Op::Pause(_), None) => prop_assert!(paused),
                    (Op::Resume(_), None) => prop_assert!(!paused),
                }
            }
            for (i, w) in windows.iter().enumerate() {
                match w.until_ms {
                    Some(u) => prop_assert!(u >= w.at_ms),
                    None => prop_assert_eq!(i, windows.len() - 1),
                }
                if let Some(prev) = i.checked_sub(1).map(|p| windows[p]) {
                    prop_assert!(prev.until_ms.is_some_and(|u| u <= w.at_ms));
                }
            }
        }

        /// The paused time within a span is the sum of the windows' overlaps, never more than
        /// the span, and adds up over a split of the span.
        #[test]
        fn paused_time_adds_up_over_a_split(
            starts in proptest::collection::vec((0i64..1000, 0i64..1000), 0..8),
            open in any::<bool>(),
            from in 0i64..20_000,
            len in 0i64..20_000,
            cut in 0i64..20_000,
        ) {
            let mut windows = Vec::new();
            let mut t = 0;
            for (gap, length) in &starts {
                t += gap;
                windows.push(PauseWindow { at_ms: t, until_ms: Some(t + length) });
                t += length;
            }
            if open {
                windows.push(PauseWindow { at_ms: t + 1, until_ms: None });
            }
            let to = from + len;
            let mid = from + cut.min(len);
            let whole = paused_ms(&windows, from, to);
            prop_assert!(whole >= 0 && whole <= len);
            prop_assert_eq!(whole, paused_ms(&windows, from, mid) + paused_ms(&windows, mid, to));
            // Counted millisecond by millisecond.
            let by_ms = (from..to)
                .filter(|ms| windows.iter().any(|w| *ms >= w.at_ms && w.until_ms.is_none_or(|u| *ms < u)))
                .count() as i64;
            prop_assert_eq!(whole, by_ms);
        }
    }

    #[test]
    fn conversion_keeps_instants_already_handed_over() {
        let offset = ClockOffset {
            offset_ms: 0,
            uncertainty_ms: 1,
        };
        let now = clock::now_ms();
        let mut pauses = Vec::new();
        let open = [PauseWindow {
            at_ms: now + 500,
            until_ms: None,
        }];
        assert!(convert(&open, offset, &mut pauses));
        let at = pauses[0].at;
        assert!(!convert(&open, offset, &mut pauses), "nothing new");
        let closed = [PauseWindow {
            at_ms: now + 500,
            until_ms: Some(now + 1500),
        }];
        assert!(convert(&closed, offset, &mut pauses));
        assert_eq!(pauses[0].at, at, "the pause did not move");
        let length = pauses[0].until.map(|u| u - at);
        // 1 s apart on the wall clock; the conversions may differ by the clocks' jitter.
        assert!(length
            .is_some_and(|l| l >= Duration::from_millis(990) && l <= Duration::from_millis(1010)));
    }
}
