//! The open-loop dispatcher of one worker for one phase. Every worker walks the agent's whole
//! schedule and takes every `count`-th arrival (`k mod count == index`), so the workers
//! together send exactly the agent's schedule with no coordination between threads. Each
//! arrival keeps its intended send time whatever happens next: it starts at once if a slot is
//! free, otherwise the overflow policy queues it (sent late, measured from the intended time)
//! or drops it (counted). The dispatcher never waits for answers.

use super::inflight::{Admission, Arrival};
use super::timeline::{after_us, PhasePlan};
use super::worker::Worker;
use std::rc::Rc;
use std::time::Instant;

pub async fn run(w: &Rc<Worker>, phase: &PhasePlan, start: Instant) {
    let mut schedule = phase.schedule(&w.share);
    let (count, me) = (w.count as u64, w.index as u64);
    let mut k = 0u64;
    while let Some(offset_us) = schedule.next_arrival() {
        let mine = k % count == me;
        k += 1;
        if !mine {
            continue;
        }
        let intended = after_us(start, offset_us);
        if Instant::now() < intended {
            if !w.sleep_until(intended).await {
                return;
            }
        } else {
            // Catching up on arrivals that fell due together: let the requests already
            // started make progress every so often.
            tokio::task::consume_budget().await;
        }
        if w.stopped() {
            return;
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
    w.sleep_until(after_us(start, phase.duration_us)).await;
}
