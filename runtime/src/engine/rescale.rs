//! A worker's view of its agent's share changes (a cluster moving a lost agent's load to the
//! survivors): applies every change not applied yet to a phase's schedule, and waits for a
//! time or a change, whichever comes first, so a dispatcher asleep until its next arrival
//! re-plans at once.

use super::arrival_timer::ArrivalTimer;
use super::worker::Worker;
use crate::coordination::ShareChange;
use crate::schedule::Schedule;
use std::time::Instant;
use tokio::sync::watch;

pub struct Rescales {
    changes: Option<watch::Receiver<Vec<ShareChange>>>,
    applied: usize,
    /// The phase start: changes are applied at their offset from it.
    start: Instant,
}

/// Why [`Rescales::wait`] returned.
pub enum Woke {
    /// The time came.
    Due,
    /// The run is stopping.
    Stopped,
    /// The share changed: apply it and re-plan.
    Changed,
}

impl Rescales {
    pub fn new(changes: Option<watch::Receiver<Vec<ShareChange>>>, start: Instant) -> Rescales {
        Rescales {
            changes,
            applied: 0,
            start,
        }
    }

    /// Applies the changes not applied yet, in order. Every worker applies the same changes
    /// at the same offsets whenever it hears of them, so their schedules stay the same one.
    pub fn apply_new(&mut self, schedule: &mut Schedule) {
        let Some(rx) = self.changes.as_mut() else {
            return;
        };
        let changes = rx.borrow_and_update();
        for change in changes.iter().skip(self.applied) {
            let at = change.at.saturating_duration_since(self.start);
            schedule.rescale(
                u64::try_from(at.as_micros()).unwrap_or(u64::MAX),
                change.rate_fraction,
            );
        }
        self.applied = changes.len();
    }

    /// Sleeps until `until` on `timer`, unless the run stops or the share changes first.
    pub async fn wait(&mut self, w: &Worker, until: Instant, timer: &mut ArrivalTimer) -> Woke {
        let woke = |due: bool| if due { Woke::Due } else { Woke::Stopped };
        let sleep = timer.sleep(w, until);
        tokio::pin!(sleep);
        let Some(rx) = self.changes.as_mut() else {
            return woke(sleep.await);
        };
        tokio::select! {
            due = &mut sleep => woke(due),
            changed = rx.changed() => match changed {
                Ok(()) => Woke::Changed,
                Err(_) => {
                    // No more changes can come; sleep as if there never were any.
                    self.changes = None;
                    woke(sleep.await)
                }
            },
        }
    }
}
