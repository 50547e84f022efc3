//! The orchestrator's bookkeeping, once a second: merge the workers' window deltas into the
//! run's cumulative record, extend the series, build the progress snapshot and check the
//! `abort` thresholds. Windows are wall-clock seconds; phases and planned rates are looked up
//! in plan time through the run's pauses, and a window's paused part plans no arrivals.

use super::pause_clock::PauseClock;
use super::timeline::Timeline;
use super::Progress;
use crate::record::recorder::{add_histogram, new_histogram, Hist};
use crate::record::series::{SeriesBuilder, Window};
use crate::record::{Layout, Recorded};
use crate::result::generator::{LoadSummary, Second};
use crate::result::summarize::response_histogram;
use crate::result::thresholds;
use crate::vm::AgentShare;
use ptl_bytecode::plan::Plan;
use std::sync::Arc;
use std::time::Duration;

pub struct Collector {
    pub cumulative: Recorded,
    pub series: SeriesBuilder,
    /// The generator's load, second by second (`result::generator`).
    pub load: LoadSummary,
    layout: Arc<Layout>,
    timeline: Arc<Timeline>,
    share: AgentShare,
    window_response: Hist,
    requests: u64,
    errors: u64,
    dropped: u64,
}

/// What one window's delta adds up to.
struct WindowTotals {
    started: u64,
    errors: u64,
    dropped: u64,
    requests: u64,
}

impl Collector {
    pub fn new(
        layout: Arc<Layout>,
        timeline: Arc<Timeline>,
        share: AgentShare,
        series_cap: usize,
    ) -> Collector {
        let (p, r, s) = (
            layout.phases.len(),
            layout.requests.len(),
            layout.scenarios.len(),
        );
        Collector {
            cumulative: Recorded::new(p, r, s),
            series: SeriesBuilder::new(series_cap),
            load: LoadSummary::default(),
            layout,
            timeline,
            share,
            window_response: new_histogram(),
            requests: 0,
            errors: 0,
            dropped: 0,
        }
    }

    /// Planned rate at plan time `t_us` into the run.
    fn target_at(&self, t_us: u64) -> (Option<usize>, f64) {
        match self.timeline.phase_at(t_us) {
            Some(p) if p.is_open() => (
                Some(p.index),
                p.schedule(&self.share).target_rate_at(t_us - p.start_us),
            ),
            Some(p) => (Some(p.index), 0.0),
            None => (None, 0.0),
        }
    }

    fn totals(&mut self, delta: &Recorded) -> WindowTotals {
        self.window_response.reset();
        let mut t = WindowTotals {
            started: 0,
            errors: 0,
            dropped: 0,
            requests: 0,
        };
        for pc in &delta.phase {
            t.started += pc.started;
            t.dropped += pc.dropped;
        }
        for s in &delta.request {
            t.errors += s.error_total();
            t.requests += s.completed;
            if let Some(l) = &s.latency {
                add_histogram(&mut self.window_response, &l.response);
            }
        }
        t
    }

    /// Takes in window `k` (`seconds` long, starting `k` seconds into the run), the run's
    /// pauses being `pauses`.
    pub fn window(
        &mut self,
        k: u64,
        seconds: f64,
        delta: &Recorded,
        pauses: &PauseClock,
    ) -> Progress {
        let totals = self.totals(delta);
        self.load.add(&Second::of(delta));
        self.cumulative.merge(delta);
        self.requests += totals.requests;
        self.errors += totals.errors;
        self.dropped += totals.dropped;
        let from_us = k.saturating_mul(1_000_000);
        let len_us = (seconds * 1_000_000.0) as u64;
        let paused = if len_us > 0 {
            (pauses.paused_between(from_us, from_us.saturating_add(len_us)) as f64 / len_us as f64)
                .min(1.0)
        } else {
            0.0
        };
        let (phase, rate) = self.target_at(pauses.plan_of(from_us.saturating_add(len_us / 2)));
        let target_rps = rate * (1.0 - paused);
        let phase_name = phase
            .and_then(|i| self.layout.phases.get(i))
            .map_or("", String::as_str);
        self.series.push(Window {
            t: k,
            seconds,
            phase: phase_name,
            target_rps,
            started: totals.started,
            errors: totals.errors,
            dropped: totals.dropped,
            response: &self.window_response,
            paused,
        });
        let elapsed_us = from_us.saturating_add(len_us);
        // Phases and what is left of them are running time: plan time.
        let plan_us = pauses.plan_of(elapsed_us);
        let current = self.timeline.phase_at(plan_us);
        let mut target_now = target_rps;
        let mut achieved_now = if seconds > 0.0 {
            totals.started as f64 / seconds
        } else {
            0.0
        };
        // At a phase boundary the window is mostly the previous phase's: the rates shown beside
        // the new phase's name are the new phase's own (its planned rate now, its arrivals over
        // the part of the window it ran).
        let window_start_plan = pauses.plan_of(from_us);
        if let Some(p) = current.filter(|p| p.start_us > window_start_plan) {
            let ran_s = plan_us.saturating_sub(p.start_us) as f64 / 1e6;
            let started = delta.phase.get(p.index).map_or(0, |c| c.started);
            target_now = self.target_at(plan_us).1 * (1.0 - paused);
            achieved_now = if ran_s > 0.0 {
                started as f64 / ran_s
            } else {
                0.0
            };
        }
        let so_far = response_histogram(&self.cumulative, &self.layout, current.map(|p| p.index));
        let q = |x: f64| {
            if so_far.is_empty() {
                0.0
            } else {
                so_far.value_at_quantile(x) as f64 / 1000.0
            }
        };
        Progress {
            elapsed: Duration::from_micros(elapsed_us),
            phase: current.map(|p| p.name.clone()),
            phase_index: current.map(|p| p.index),
            phase_left: current.map_or(Duration::ZERO, |p| {
                Duration::from_micros(p.end_us().saturating_sub(plan_us))
            }),
            run_left: Duration::from_micros(self.timeline.total_us.saturating_sub(plan_us)),
            target_rps: target_now,
            achieved_rps: achieved_now,
            p50_ms: q(0.50),
            p99_ms: q(0.99),
            requests: self.requests,
            errors: self.errors,
            dropped: self.dropped,
            paused: pauses.paused_at(elapsed_us),
        }
    }

    /// The expression of the first `abort` threshold crossed so far.
    pub fn crossed_abort(&self, plan: &Plan) -> Option<String> {
        thresholds::crossed_abort(plan, &self.layout, &self.cumulative).map(|t| t.expr.clone())
    }
}
