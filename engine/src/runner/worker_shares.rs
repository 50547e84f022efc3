//! A worker's view of its agent's share changes (a cluster moving a lost agent's load to the
//! survivors): applies every change not applied yet to a phase's schedule, and waits for a
//! plan instant or a change (of the share or of the pauses), whichever comes first, so a
//! dispatcher asleep until its next arrival re-plans at once.

use super::arrival_timer::ArrivalTimer;
use super::worker::Worker;
use crate::coordination::ShareChange;
use crate::schedule::Schedule;
use tokio::sync::watch;

pub struct Rescales {
    changes: Option<watch::Receiver<Vec<ShareChange>>>,
    applied: usize,
    /// The phase start, in plan time: changes are applied at their plan offset from it.
    start_us: u64,
}

/// Why [`Rescales::wait`] returned.
pub enum Woke {
    /// The time came.
    Due,
    /// The run is stopping.
    Stopped,
    /// The share or the pauses changed: apply the changes and re-plan.
    Changed,
}

impl Rescales {
    pub fn new(changes: Option<watch::Receiver<Vec<ShareChange>>>, start_us: u64) -> Rescales {
        Rescales {
            changes,
            applied: 0,
            start_us,
        }
    }

    /// Applies the changes not applied yet, in order. Every worker applies the same changes
    /// at the same offsets whenever it hears of them, so their schedules stay the same one. A
    /// change's instant is taken in plan time (the pauses before it left out), as the
    /// schedule counts.
    pub fn apply_new(&mut self, w: &Worker, schedule: &mut Schedule) {
        let Some(rx) = self.changes.as_mut() else {
            return;
        };
        let changes = rx.borrow_and_update();
        for change in changes.iter().skip(self.applied) {
            let at = w.holds.plan_at(change.at).saturating_sub(self.start_us);
            schedule.rescale(at, change.rate_fraction);
        }
        self.applied = changes.len();
    }

    /// Sleeps on `timer` until plan instant `plan_us` comes in wall time, unless the run
    /// stops, the share changes or the pauses change first. While a pause holds the instant
    /// back, only a change or a stop wakes it.
    pub async fn wait(&mut self, w: &Worker, plan_us: u64, timer: &mut ArrivalTimer) -> Woke {
        let paused = w.holds.changed();
        let due = w.holds.wall(plan_us);
        let sleep = async {
            match due {
                Some(t) => timer.sleep(w, t).await,
                None => {
                    w.interrupted().await;
                    false
                }
            }
        };
        let changes = self.changes.as_mut();
        let share_changed = async {
            match changes {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        let (woke, closed) = tokio::select! {
            due = sleep => (if due { Woke::Due } else { Woke::Stopped }, false),
            () = paused => (Woke::Changed, false),
            open = share_changed => (Woke::Changed, !open),
        };
        if closed {
            // No more share changes can come.
            self.changes = None;
        }
        woke
    }
}
