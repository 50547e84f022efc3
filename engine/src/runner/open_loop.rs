//! The open-loop dispatcher of one worker for one phase. Every worker walks the agent's whole
//! schedule and takes every `count`-th arrival (`k mod count == index`), so the workers
//! together send exactly the agent's schedule with no coordination between threads. Each
//! arrival keeps its intended send time whatever happens next: it starts at once if a slot is
//! free, otherwise the overflow policy queues it (sent late, measured from the intended time)
//! or drops it (counted). The dispatcher never waits for answers. A change of the agent's
//! share re-plans the schedule from the change's time on (see `rescale`), even while the
//! dispatcher waits for its next arrival or for the end of the phase. Waits for an arrival are
//! on an [`ArrivalTimer`] (a timerfd), so arrivals go out within tens of microseconds of their
//! instant (within 500 µs above 2,000/s per worker) rather than up to two of tokio's
//! millisecond ticks later.
//!
//! A cluster agent sends an arrival only if its lease was held from the arrival's instant on
//! (see `crate::lease`); the others are held back (counted by the lease, not in the agent's
//! reports), so a woken agent adds no burst.
//!
//! The schedule counts in plan time; a pause (see `pause_clock`) moves every arrival after its
//! start later by its length, so none is due while paused and none is dropped or late because
//! of it. Arrivals already sent when a worker hears of a pause that began earlier stay sent,
//! and the schedule goes on from the next one: the phase's count stays the plan's.

use super::arrival_timer::ArrivalTimer;
use super::inflight::{Admission, Arrival};
use super::timeline::PhasePlan;
use super::worker::Worker;
use super::worker_shares::{Rescales, Woke};
use std::rc::Rc;
use std::time::Instant;

pub async fn run(w: &Rc<Worker>, phase: &PhasePlan) {
    let mut schedule = phase.schedule(&w.share);
    let mut rescales = Rescales::new(w.share_changes.clone(), phase.start_us);
    rescales.apply_new(w, &mut schedule);
    let (count, me) = (w.count as u64, w.index as u64);
    let mut k = 0u64;
    let mut timer = ArrivalTimer::new();
    // Whether the dispatcher has just slept until the arrival at hand.
    let mut woke = false;
    loop {
        let Some(offset_us) = schedule.peek_arrival() else {
            // Every arrival is out; a larger share before the end may bring more.
            match rescales.wait(w, phase.end_us(), &mut timer).await {
                Woke::Changed => {
                    rescales.apply_new(w, &mut schedule);
                    continue;
                }
                Woke::Due | Woke::Stopped => return,
            }
        };
        if k % count != me {
            schedule.advance();
            k += 1;
            continue;
        }
        let plan_us = phase.start_us.saturating_add(offset_us);
        let intended = match w.holds.wall(plan_us) {
            Some(t) if Instant::now() >= t => t,
            _ => {
                match rescales.wait(w, plan_us, &mut timer).await {
                    Woke::Stopped => return,
                    // Woken on time or not, the arrival may have moved: plan it again.
                    Woke::Due => woke = true,
                    Woke::Changed => rescales.apply_new(w, &mut schedule),
                }
                continue;
            }
        };
        if !std::mem::take(&mut woke) {
            // Catching up on arrivals that fell due together: let the requests already
            // started make progress every so often.
            tokio::task::consume_budget().await;
        }
        if w.stopped() {
            return;
        }
        schedule.advance();
        k += 1;
        if !w.may_send(intended) {
            // Due while this agent could not prove its place in the run: never sent late, and
            // not in its reports (another agent may be sending this share by now); the lease
            // counts it.
            w.hold_back();
            continue;
        }
        let scenario = w
            .program
            .pick_scenario(&mut w.vm.borrow_mut(), phase.index as u32);
        w.rec.borrow_mut().planned(phase.index, 1);
        let arrival = Arrival {
            phase: phase.index,
            scenario,
            intended,
        };
        match w.inflight.admit(arrival) {
            Admission::Start => w.launch(arrival),
            Admission::Queued => {}
            Admission::Dropped => w.drop_arrival(&arrival),
        }
    }
}
