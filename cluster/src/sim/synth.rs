//! The engine of a simulated agent: no HTTP, only the interval deltas a real agent would report
//! for its share. It follows the same [`Coordination`] as the runtime's engine (start instant,
//! stop, share changes, pauses, lease), so the coordinator sees the same protocol: window `k`
//! is second `k` after the agent's start, its counts are the schedule's (the arrivals of the
//! agent's uniform schedule, `Schedule::for_agent`'s offsets, falling in the window's plan
//! time, at the shares in force), and every arrival completes with status 200 as the plan's
//! first request of the phase's first scenario, its response time drawn from the
//! [`LatencyModel`]. Arrivals due while the lease has lapsed are dropped and counted as fenced,
//! as the engine does. With `saturate_above` it plays a generator at its limit: arrivals beyond
//! that many a second are dropped and the ones it starts go out late, so the coordinator's
//! saturation and shortfall signals can be exercised without burning the CPU a real one would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ptl_bytecode::Plan;
use ptl_engine::coordination::{BoxFuture, Coordination, Pause, ShareChange};
use ptl_engine::error::RuntimeError;
use ptl_engine::record::{new_histogram, Hist, IntervalDelta, Latencies, Layout, Recorded};
use ptl_engine::runner::pause_clock::PauseClock;
use ptl_engine::runner::timeline::Timeline;
use ptl_engine::vm::AgentShare;
use rand::rngs::SmallRng;
use rand::SeedableRng;

use crate::agent::Engine;
use crate::sim::latency::LatencyModel;

/// Response times drawn per window at most; beyond it each draw stands for several arrivals.
/// A histogram's size (and so a delta's) is set by its distinct buckets, which a few thousand
/// draws already fill as the real distribution would, at a fraction of the CPU a thousand
/// agents' millions of draws per second would take from the processes being measured.
pub const SAMPLES_PER_WINDOW: u64 = 4_000;

/// Requests the simulated agents of this process reported, all runs together.
#[derive(Debug, Default)]
pub struct Tally {
    pub requests: AtomicU64,
    pub deltas: AtomicU64,
}

pub struct SynthEngine {
    pub model: LatencyModel,
    pub seed: u64,
    pub tally: Arc<Tally>,
    /// A generator that cannot carry more: at most this many arrivals a second start (late,
    /// with [`SATURATED_LAG_US`] of schedule lag); the rest are dropped. `None`: no limit.
    pub saturate_above: Option<f64>,
}

/// Schedule lag of the arrivals a saturated simulated agent starts: well past the 20 ms a
/// generator with headroom stays within (`ptl_engine::result::generator::LAG_BUDGET_MS`).
pub const SATURATED_LAG_US: u64 = 50_000;

impl Engine for SynthEngine {
    fn run(
        &self,
        plan: Plan,
        share: AgentShare,
        coordination: Arc<dyn Coordination>,
    ) -> BoxFuture<'_, Result<(), RuntimeError>> {
        let rng = SmallRng::seed_from_u64(self.seed ^ u64::from(share.index) << 32);
        Box::pin(synthesise(
            plan,
            share,
            coordination,
            self.model,
            rng,
            self.tally.clone(),
            self.saturate_above,
        ))
    }
}

/// Each phase's cumulative arrivals of this agent, at the shares in force.
struct Arrivals {
    timeline: Timeline,
    share: AgentShare,
    /// Uniform arrival `k` is due at Λ = k + offset (as `Schedule::for_agent` places it).
    offset: f64,
    /// The share changes so far, at plan time (µs from the run's start).
    changes: Vec<(u64, f64)>,
}

impl Arrivals {
    fn new(plan: &Plan, share: &AgentShare) -> Arrivals {
        Arrivals {
            timeline: Timeline::of(plan, share),
            share: *share,
            offset: (f64::from(share.index) + 0.5) / f64::from(share.count.max(1)),
            changes: Vec::new(),
        }
    }

    /// Takes the share changes as known now, `at` converted to plan time.
    fn follow(&mut self, changes: &[ShareChange], plan_us_of: impl Fn(Instant) -> u64) {
        self.changes = changes
            .iter()
            .map(|c| (plan_us_of(c.at), c.rate_fraction))
            .collect();
    }

    /// Arrivals of phase `i` due before plan time `t_us`: the engine's own schedule, re-based
    /// at every share change as the engine's workers re-base theirs.
    fn due(&self, i: usize, t_us: u64) -> u64 {
        let phase = &self.timeline.phases[i];
        if !phase.is_open() || t_us <= phase.start_us {
            return 0;
        }
        let mut schedule = phase.schedule(&self.share);
        for &(at, fraction) in &self.changes {
            schedule.rescale(
                at.saturating_sub(phase.start_us).min(phase.duration_us),
                fraction,
            );
        }
        let into = (t_us - phase.start_us).min(phase.duration_us);
        let lambda = schedule.expected_arrivals(into);
        (lambda - self.offset).ceil().max(0.0) as u64
    }
}

async fn synthesise(
    plan: Plan,
    share: AgentShare,
    coordination: Arc<dyn Coordination>,
    model: LatencyModel,
    mut rng: SmallRng,
    tally: Arc<Tally>,
    saturate_above: Option<f64>,
) -> Result<(), RuntimeError> {
    let layout = Layout::of(&plan);
    let dims = (
        layout.phases.len(),
        layout.requests.len(),
        layout.scenarios.len(),
    );
    let first_request = |phase: usize| -> Option<(usize, usize)> {
        let mix = plan.phases.get(phase)?.mix.as_ref();
        let scenario = mix.and_then(|m| m.first()).map_or(0, |m| m.0 as usize);
        let request = layout
            .scenarios
            .get(scenario)?
            .step_request
            .iter()
            .flatten()
            .next()?;
        Some((scenario, *request as usize))
    };
    let mut arrivals = Arrivals::new(&plan, &share);
    let total_us = arrivals.timeline.total_us;
    let start = coordination.start().await?;
    let changes = coordination.share_changes();
    let pauses = coordination.pauses();
    let lease = coordination.lease();
    let mut stopped = coordination.stopped();
    let clock = |pauses: &[Pause]| PauseClock::from_pauses(pauses, start).before_plan(total_us);
    let micros = |t: Instant| t.saturating_duration_since(start).as_micros() as u64;
    let mut sent: Vec<u64> = vec![0; dims.0];
    let mut window = 0u64;
    loop {
        let pause_list = pauses
            .as_ref()
            .map(|p| p.borrow().clone())
            .unwrap_or_default();
        let pause_clock = clock(&pause_list);
        // The schedule ends at plan time `total_us`, later in wall time by the pauses.
        let end_wall_us = pause_clock.wall_of(total_us).unwrap_or(u64::MAX);
        let window_end_us = ((window + 1) * 1_000_000).min(end_wall_us);
        let due_at = start + Duration::from_micros(window_end_us);
        let mut last = window_end_us >= end_wall_us;
        tokio::select! {
            _ = tokio::time::sleep_until(due_at.into()) => {}
            _ = &mut stopped => last = true,
        }
        let now_us = micros(Instant::now()).min(window_end_us);
        let pause_list = pauses
            .as_ref()
            .map(|p| p.borrow().clone())
            .unwrap_or_default();
        let pause_clock = clock(&pause_list);
        if let Some(changes) = &changes {
            let list = changes.borrow().clone();
            arrivals.follow(&list, |at| pause_clock.plan_of(micros(at)));
        }
        let plan_now = pause_clock.plan_of(now_us).min(total_us);
        let permitted = lease.as_ref().is_none_or(|l| l.held());
        let mut recorded = Recorded::new(dims.0, dims.1, dims.2);
        for (phase, sent) in sent.iter_mut().enumerate() {
            let due = arrivals.due(phase, plan_now);
            let n = due.saturating_sub(*sent);
            *sent = due.max(*sent);
            if n == 0 {
                continue;
            }
            let Some((scenario, request)) = first_request(phase) else {
                continue;
            };
            recorded.phase[phase].planned += n;
            if !permitted {
                recorded.phase[phase].dropped += n;
                let cell = phase * dims.2 + scenario;
                recorded.scenario[cell].dropped += n;
                recorded.request[phase * dims.1 + request].dropped += n;
                if let Some(l) = &lease {
                    (0..n).for_each(|_| l.refused_one());
                }
                continue;
            }
            // Saturated: what it cannot start in the window is dropped, and what it starts
            // goes out late.
            let can = saturate_above.map_or(n, |r| n.min(r.max(0.0) as u64));
            let saturated = can < n;
            if saturated {
                let over = n - can;
                recorded.phase[phase].dropped += over;
                recorded.scenario[phase * dims.2 + scenario].dropped += over;
                recorded.request[phase * dims.1 + request].dropped += over;
            }
            let n = can;
            if n == 0 {
                continue;
            }
            recorded.phase[phase].started += n;
            let s = &mut recorded.scenario[phase * dims.2 + scenario];
            s.iterations += n;
            s.completed += n;
            let r = &mut recorded.request[phase * dims.1 + request];
            r.completed += n;
            r.statuses.push((200, n));
            let mut latency = Box::<Latencies>::default();
            let draws = n.min(SAMPLES_PER_WINDOW);
            for i in 0..draws {
                // The first `n % draws` draws stand for one arrival more.
                let weight = n / draws + u64::from(i < n % draws);
                let drawn = model.sample(&mut rng);
                // The schedule lag of a loaded generator: small, and below the response time;
                // a saturated one's comes on top of the service time.
                let (response, lag) = if saturated {
                    (drawn + SATURATED_LAG_US, SATURATED_LAG_US)
                } else {
                    (drawn, (drawn / 200).min(500))
                };
                record_n(&mut latency.response, response, weight);
                record_n(&mut latency.service, response - lag, weight);
                record_n(&mut latency.lag, lag, weight);
            }
            let mut iteration = new_histogram();
            iteration.add(&latency.response).ok();
            s.iteration_time = Some(Box::new(iteration));
            r.latency = Some(latency);
        }
        let requests: u64 = recorded.request.iter().map(|r| r.completed).sum();
        coordination.report(&IntervalDelta {
            agent: share.index,
            window,
            recorded,
        });
        tally.requests.fetch_add(requests, Ordering::Relaxed);
        tally.deltas.fetch_add(1, Ordering::Relaxed);
        if last {
            return Ok(());
        }
        window += 1;
    }
}

/// Histograms auto-resize, so this fails only for values beyond any range: clamped then.
fn record_n(h: &mut Hist, value: u64, n: u64) {
    if h.record_n(value, n).is_err() {
        h.saturating_record_n(value, n);
    }
}
