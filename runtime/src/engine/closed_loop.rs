//! Closed-model phases (`users N for D think T`): this worker's share of the virtual users,
//! each running iterations back to back, pausing `think` between them, until the phase ends.
//! A user's next iteration is intended when it decides to send (after the previous answer and
//! the think time), so there is no schedule to fall behind; waiting for a connection still
//! shows as lag. Users are bounded by themselves, not by `max_inflight`.

use super::iteration;
use super::timeline::after_us;
use super::timeline::PhasePlan;
use super::worker::Worker;
use std::rc::Rc;
use std::time::{Duration, Instant};

pub async fn run(w: &Rc<Worker>, phase: &PhasePlan, start: Instant, users: usize, think: Duration) {
    let end = after_us(start, phase.duration_us);
    for _ in 0..users {
        w.task_started();
        let w = w.clone();
        let index = phase.index;
        tokio::task::spawn_local(async move {
            let mut now = Instant::now();
            loop {
                if now >= end || w.winding_down() {
                    break;
                }
                let scenario = w
                    .program
                    .pick_scenario(&mut w.vm.borrow_mut(), index as u32);
                let ran = iteration::run_timed(&w, index, scenario, now).await;
                if think.is_zero() {
                    // Against a target that refuses at once, an iteration may never wait on
                    // anything: spend cooperative budget so the worker's other tasks (and its
                    // harvests) get their turn.
                    tokio::task::consume_budget().await;
                    // The user sends again as soon as its last answer is in.
                    now = match ran.ended {
                        Some(t) => t,
                        None => Instant::now(),
                    };
                } else if !w.sleep_until(Instant::now() + think).await {
                    break;
                } else {
                    now = Instant::now();
                }
            }
            w.task_ended();
        });
    }
    w.sleep_until(end).await;
}
