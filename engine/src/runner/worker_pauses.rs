//! A worker's view of the run's pauses: its [`PauseClock`], kept current by a task that
//! follows the coordination's pause list, and the waits that respect it. Every instant the
//! worker plans by (a phase start or end, an arrival) is a plan instant turned into wall time
//! through the clock, so each worker applies each pause the same way whenever it hears of it.

use super::pause_clock::PauseClock;
use super::timeline::after_us;
use super::worker::Worker;
use crate::coordination::Pause;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Instant;
use tokio::sync::futures::Notified;
use tokio::sync::{watch, Notify};

/// The pauses as one worker knows them.
#[derive(Default)]
pub struct Holds {
    clock: RefCell<PauseClock>,
    run_start: Cell<Option<Instant>>,
    /// Plan time at which the schedule ends: pauses from then on are ignored (the drain).
    end_us: Cell<u64>,
    changed: Notify,
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Holds {
    /// The run starts at `run_start`; its schedule ends at plan time `end_us`.
    pub fn start(&self, run_start: Instant, end_us: u64) {
        self.run_start.set(Some(run_start));
        self.end_us.set(end_us);
    }

    fn run_start(&self) -> Instant {
        self.run_start.get().unwrap_or_else(Instant::now)
    }

    fn update(&self, pauses: &[Pause]) {
        let clock =
            PauseClock::from_pauses(pauses, self.run_start()).before_plan(self.end_us.get());
        if *self.clock.borrow() != clock {
            *self.clock.borrow_mut() = clock;
            self.changed.notify_waiters();
        }
    }

    /// Resolves at the next change of the pauses. Create it before reading the clock, so a
    /// change in between is not missed.
    pub fn changed(&self) -> Notified<'_> {
        self.changed.notified()
    }

    /// Wall instant of plan instant `plan_us` (µs from the run start); `None` while a pause
    /// holds it back.
    pub fn wall(&self, plan_us: u64) -> Option<Instant> {
        let start = self.run_start.get()?;
        let wall = self.clock.borrow().wall_of(plan_us)?;
        Some(after_us(start, wall))
    }

    /// Plan time at instant `t`.
    pub fn plan_at(&self, t: Instant) -> u64 {
        let wall = micros(t.saturating_duration_since(self.run_start()));
        self.clock.borrow().plan_of(wall)
    }

    pub fn paused_at(&self, t: Instant) -> bool {
        let wall = micros(t.saturating_duration_since(self.run_start()));
        self.clock.borrow().paused_at(wall)
    }
}

/// Keeps `w`'s clock current with the pause list until the list's sender is gone. Call it
/// once the run's start is known ([`Holds::start`]).
pub fn follow(w: Rc<Worker>, mut pauses: watch::Receiver<Vec<Pause>>) {
    w.holds.update(&pauses.borrow_and_update());
    tokio::task::spawn_local(async move {
        while pauses.changed().await.is_ok() {
            w.holds.update(&pauses.borrow_and_update());
        }
    });
}

/// Sleeps until plan instant `plan_us` comes in wall time, however pauses move it. False if a
/// stop or wind-down interrupted it.
pub async fn sleep_until_plan(w: &Worker, plan_us: u64) -> bool {
    loop {
        let changed = w.holds.changed();
        match w.holds.wall(plan_us) {
            Some(t) if Instant::now() >= t => return !w.winding_down(),
            Some(t) => {
                tokio::select! {
                    woke = w.sleep_until(t) => if !woke { return false },
                    _ = changed => {}
                }
            }
            None => {
                tokio::select! {
                    _ = w.interrupted() => return false,
                    _ = changed => {}
                }
            }
        }
    }
}

/// Waits while the run is paused now. False if a stop or wind-down interrupted it.
pub async fn wait_unpaused(w: &Worker) -> bool {
    loop {
        let changed = w.holds.changed();
        if w.winding_down() {
            return false;
        }
        let now = Instant::now();
        if !w.holds.paused_at(now) {
            return true;
        }
        // A pause with a known end is waited out by time; one still running, by its resume.
        let resume = w.holds.wall(w.holds.plan_at(now).saturating_add(1));
        tokio::select! {
            _ = w.interrupted() => return false,
            _ = changed => {}
            _ = sleep_opt(resume) => {}
        }
    }
}

async fn sleep_opt(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(tokio::time::Instant::from_std(t)).await,
        None => std::future::pending().await,
    }
}
