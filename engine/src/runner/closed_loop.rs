//! Closed-model phases (`users N for D think T`): this worker's share of the virtual users,
//! each running iterations back to back, pausing a fresh draw of `think` (fixed, uniform in a
//! range, or exponential) between them, until the phase ends.
//! A user's next iteration is intended when it decides to send (after the previous answer and
//! the think time), so there is no schedule to fall behind; waiting for a connection still
//! shows as lag. Users are bounded by themselves, not by `max_inflight`. While the run is
//! paused a user finishes the iteration it is in and holds before the next; the phase's end
//! is in plan time, so it keeps its planned running time. A cluster agent's user also holds
//! while the agent's lease has lapsed (see `crate::lease`).

use super::iteration;
use super::timeline::PhasePlan;
use super::worker::Worker;
use super::worker_pauses::{sleep_until_plan, wait_unpaused};
use crate::vm::draw_think;
use ptl_bytecode::plan::Think;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How often a user held by a lapsed lease looks again.
const LEASE_POLL: Duration = Duration::from_millis(50);

/// Runs `users` of the phase's users; each pauses a fresh draw of `think` after an iteration.
pub async fn run(w: &Rc<Worker>, phase: &PhasePlan, users: usize, think: Think) {
    let end_us = phase.end_us();
    for _ in 0..users {
        w.task_started();
        let w = w.clone();
        let index = phase.index;
        tokio::task::spawn_local(async move {
            let mut now = Instant::now();
            loop {
                if w.holds.paused_at(Instant::now()) {
                    if !wait_unpaused(&w).await {
                        break;
                    }
                    now = Instant::now();
                }
                if w.holds.plan_at(now) >= end_us || w.winding_down() {
                    break;
                }
                if !w.may_send(now) {
                    // A cluster agent without its lease: the user holds until it is back.
                    if !w.sleep_until(Instant::now() + LEASE_POLL).await {
                        break;
                    }
                    now = Instant::now();
                    continue;
                }
                let scenario = w
                    .program
                    .pick_scenario(&mut w.vm.borrow_mut(), index as u32);
                let ran = iteration::run_timed(&w, index, scenario, now).await;
                if ran.exhausted {
                    // No row left for a `unique` feeder: this user is done, rather than spin.
                    break;
                }
                if think.is_none() {
                    // Against a target that refuses at once, an iteration may never wait on
                    // anything: spend cooperative budget so the worker's other tasks (and its
                    // harvests) get their turn.
                    tokio::task::consume_budget().await;
                    // The user sends again as soon as its last answer is in.
                    now = match ran.ended {
                        Some(t) => t,
                        None => Instant::now(),
                    };
                } else {
                    let pause = draw_think(think, w.vm.borrow_mut().rng());
                    if !w
                        .sleep_until(Instant::now() + Duration::from_micros(pause))
                        .await
                    {
                        break;
                    }
                    now = Instant::now();
                }
            }
            w.task_ended();
        });
    }
    sleep_until_plan(w, end_us).await;
}
