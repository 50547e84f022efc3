//! The open-loop dispatcher of one worker for one phase. Every worker walks the agent's whole
//! schedule and takes every `count`-th arrival (`k mod count == index`), so the workers
//! together send exactly the agent's schedule with no coordination between threads. Each
//! arrival keeps its intended send time whatever happens next: it starts at once if a slot is
//! free, otherwise the overflow policy queues it (sent late, measured from the intended time)
//! or drops it (counted). The dispatcher never waits for answers. A change of the agent's
//! share re-plans the schedule from the change's time on (see `rescale`), even while the
//! dispatcher waits for its next arrival or for the end of the phase. Waits for an arrival are
//! on an [`ArrivalTimer`] (a timerfd), so arrivals go out within tens of microseconds of their
//! instant (within 200 µs above 5,000/s per worker) rather than up to two of tokio's
//! millisecond ticks later.

use super::arrival_timer::ArrivalTimer;
use super::inflight::{Admission, Arrival};
use super::rescale::{Rescales, Woke};
use super::timeline::{after_us, PhasePlan};
use super::worker::Worker;
use std::rc::Rc;
use std::time::Instant;

pub async fn run(w: &Rc<Worker>, phase: &PhasePlan, start: Instant) {
    let mut schedule = phase.schedule(&w.share);
    let mut rescales = Rescales::new(w.share_changes.clone(), start);
    rescales.apply_new(&mut schedule);
    let end = after_us(start, phase.duration_us);
    let (count, me) = (w.count as u64, w.index as u64);
    let mut k = 0u64;
    let mut timer = ArrivalTimer::new();
    loop {
        let Some(offset_us) = schedule.peek_arrival() else {
            // Every arrival is out; a larger share before the end may bring more.
            match rescales.wait(w, end, &mut timer).await {
                Woke::Changed => {
                    rescales.apply_new(&mut schedule);
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
        let intended = after_us(start, offset_us);
        if Instant::now() < intended {
            match rescales.wait(w, intended, &mut timer).await {
                Woke::Due => {}
                Woke::Stopped => return,
                Woke::Changed => {
                    // The arrival waited for may move: plan it again.
                    rescales.apply_new(&mut schedule);
                    continue;
                }
            }
        } else {
            // Catching up on arrivals that fell due together: let the requests already
            // started make progress every so often.
            tokio::task::consume_budget().await;
        }
        if w.stopped() {
            return;
        }
        schedule.advance();
        k += 1;
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
