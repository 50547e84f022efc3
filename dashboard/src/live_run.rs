//! One run as the dashboard follows it: interval deltas (from this process's engine or from a
//! cluster's agents) merged exactly into the run's cumulative record and into a per-second
//! series, and the live result rendered from them by the runtime's own summary code, so the
//! page, `/api/runs/{id}` and `/metrics` show what the final result will say, only sooner.

use crate::model::{Headline, PhaseSpan};
use ptl_bytecode::plan::Plan;
use ptl_engine::record::series::{self, Window};
use ptl_engine::record::{add_histogram, new_histogram, Hist};
use ptl_engine::record::{merge_delta, IntervalDelta, Layout, Recorded};
use ptl_engine::result::{summarize, thresholds};
use ptl_engine::result::{RunResult, SeriesPoint};
use ptl_engine::runner::timeline::Timeline;
use ptl_engine::vm::AgentShare;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Windows whose histograms are kept so a late delta of the same second (another agent's, or
/// an agent's final flush) revises its point exactly; older points only gain counts.
const REVISABLE_WINDOWS: u64 = 8;
/// Bound on the series: past it, neighbouring points are merged pairwise
/// ([`series::compact`], as the runtime's series does), so a day-long run keeps a page-sized
/// series.
pub const MAX_POINTS: usize = 7200;

/// What one second of the run adds up to, across agents.
struct WindowAcc {
    started: u64,
    errors: u64,
    dropped: u64,
    response: Hist,
}

impl WindowAcc {
    fn new() -> WindowAcc {
        WindowAcc {
            started: 0,
            errors: 0,
            dropped: 0,
            response: new_histogram(),
        }
    }

    fn add(&mut self, rec: &Recorded) {
        self.started += rec.phase.iter().map(|p| p.started).sum::<u64>();
        self.dropped += rec.phase.iter().map(|p| p.dropped).sum::<u64>();
        self.errors += rec.request.iter().map(|r| r.error_total()).sum::<u64>();
        for r in &rec.request {
            if let Some(l) = &r.latency {
                add_histogram(&mut self.response, &l.response);
            }
        }
    }
}

pub struct LiveRun {
    plan: Arc<Plan>,
    plan_hash: String,
    layout: Layout,
    /// The whole run's planned rates (every agent's share together).
    timeline: Timeline,
    started_at: SystemTime,
    cumulative: Recorded,
    points: BTreeMap<u64, SeriesPoint>,
    open: BTreeMap<u64, WindowAcc>,
    /// Points added or revised since the last [`LiveRun::take_changed`].
    changed: BTreeSet<u64>,
    /// The series was compacted: the next update must resend all of it.
    reset: bool,
    elapsed: Duration,
    stop_reason: Option<String>,
    cap: usize,
}

impl LiveRun {
    pub fn new(plan: Arc<Plan>, plan_hash: String, started_at: SystemTime) -> LiveRun {
        Self::with_cap(plan, plan_hash, started_at, MAX_POINTS)
    }

    /// [`LiveRun::new`] with another bound on the series (at least 2 points).
    pub fn with_cap(
        plan: Arc<Plan>,
        plan_hash: String,
        started_at: SystemTime,
        cap: usize,
    ) -> LiveRun {
        let layout = Layout::of(&plan);
        let timeline = Timeline::of(&plan, &AgentShare::solo());
        let cumulative = Recorded::new(
            layout.phases.len(),
            layout.requests.len(),
            layout.scenarios.len(),
        );
        LiveRun {
            plan,
            plan_hash,
            layout,
            timeline,
            started_at,
            cumulative,
            points: BTreeMap::new(),
            open: BTreeMap::new(),
            changed: BTreeSet::new(),
            reset: false,
            elapsed: Duration::ZERO,
            stop_reason: None,
            cap: cap.max(2),
        }
    }

    pub fn plan(&self) -> &Plan {
        &self.plan
    }

    pub fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// The run's merged record so far.
    pub fn recorded(&self) -> &Recorded {
        &self.cumulative
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The plan's length.
    pub fn planned(&self) -> Duration {
        Duration::from_micros(self.timeline.total_us)
    }

    pub fn phase_spans(&self) -> Vec<PhaseSpan> {
        self.timeline
            .phases
            .iter()
            .map(|p| PhaseSpan {
                name: p.name.clone(),
                start_s: p.start_us as f64 / 1e6,
                end_s: p.end_us() as f64 / 1e6,
            })
            .collect()
    }

    pub fn set_elapsed(&mut self, elapsed: Duration) {
        self.elapsed = elapsed;
    }

    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    pub fn set_stop_reason(&mut self, reason: Option<String>) {
        self.stop_reason = reason;
    }

    /// Forgets every delta merged so far (the reader starts again from the coordinator's
    /// folded seconds): the next update resends the whole series.
    pub fn clear(&mut self) {
        self.cumulative = self.cumulative.empty_like();
        self.points.clear();
        self.open.clear();
        self.changed.clear();
        self.reset = true;
    }

    /// Merges an interval of the coordinator's history `seconds` wide (a restart: see
    /// `ptl_cluster::observe::Restart`) as one point covering them, its rates per second of
    /// that time, as the runtime's series draws a point of merged windows. A one-second one is
    /// [`LiveRun::add`].
    pub fn add_span(&mut self, delta: &IntervalDelta, seconds: u64) -> Result<(), String> {
        if seconds <= 1 {
            return self.add(delta);
        }
        merge_delta(&mut self.cumulative, delta).map_err(|e| e.to_string())?;
        let mut acc = WindowAcc::new();
        acc.add(&delta.recorded);
        let k = delta.window;
        let point = point_over(k, seconds, &acc, &self.timeline, &self.layout);
        self.points.insert(k, point);
        self.changed.insert(k);
        if self.points.len() > self.cap {
            self.compact();
        }
        Ok(())
    }

    /// Merges one agent's delta of one window. A delta of another plan's shape is refused.
    pub fn add(&mut self, delta: &IntervalDelta) -> Result<(), String> {
        merge_delta(&mut self.cumulative, delta).map_err(|e| e.to_string())?;
        let k = delta.window;
        let rec = &delta.recorded;
        let started: u64 = rec.phase.iter().map(|p| p.started).sum();
        let dropped: u64 = rec.phase.iter().map(|p| p.dropped).sum();
        let errors: u64 = rec.request.iter().map(|r| r.error_total()).sum();
        let newest = self.open.keys().next_back().copied().unwrap_or(0).max(k);
        let frozen = self.points.contains_key(&k) && !self.open.contains_key(&k);
        if frozen || k + REVISABLE_WINDOWS < newest {
            // Too late to revise percentiles exactly: keep the counts right.
            let point = self
                .points
                .entry(k)
                .or_insert_with(|| empty_point(k, &self.timeline, &self.layout));
            point.achieved_rps += started as f64;
            point.errors += errors;
            point.dropped += dropped;
        } else {
            let acc = self.open.entry(k).or_insert_with(WindowAcc::new);
            acc.add(rec);
            let point = point_of(k, acc, &self.timeline, &self.layout);
            self.points.insert(k, point);
        }
        self.changed.insert(k);
        self.open.retain(|w, _| w + REVISABLE_WINDOWS >= newest);
        if self.points.len() > self.cap {
            self.compact();
        }
        Ok(())
    }

    /// Merges neighbouring points pairwise, as the runtime's own series does.
    fn compact(&mut self) {
        let old = std::mem::take(&mut self.points).into_values().collect();
        self.points = series::compact(old).into_iter().map(|p| (p.t, p)).collect();
        self.open.clear();
        self.reset = true;
    }

    pub fn series(&self) -> Vec<SeriesPoint> {
        self.points.values().cloned().collect()
    }

    /// The points added or revised since the last call, and whether the whole series must be
    /// resent instead (it was compacted).
    pub fn take_changed(&mut self) -> (Vec<SeriesPoint>, bool) {
        let reset = std::mem::take(&mut self.reset);
        let changed = std::mem::take(&mut self.changed);
        if reset {
            return (self.series(), true);
        }
        let points = changed
            .into_iter()
            .filter_map(|t| self.points.get(&t).cloned())
            .collect();
        (points, false)
    }

    /// The result as it stands: what `--out` would say if the run ended now.
    pub fn result(&self) -> RunResult {
        let elapsed = self.elapsed.as_secs_f64();
        let phase_seconds = self
            .timeline
            .phases
            .iter()
            .map(|p| (elapsed - p.start_us as f64 / 1e6).clamp(0.0, p.duration_us as f64 / 1e6))
            .collect();
        summarize::build(summarize::SummaryInput {
            plan: &self.plan,
            layout: &self.layout,
            recorded: &self.cumulative,
            plan_hash: self.plan_hash.clone(),
            started_at: self.started_at,
            duration: self.elapsed,
            phase_seconds,
            phase_target_rps: self.timeline.phases.iter().map(|p| p.target_rps).collect(),
            stop_reason: self.stop_reason.clone(),
            thresholds: thresholds::evaluate(&self.plan, &self.layout, &self.cumulative),
            series: self.series(),
        })
    }

    /// The numbers at the top of the page, at the current elapsed time.
    pub fn headline(&self, result: &RunResult) -> Headline {
        let elapsed_us = u64::try_from(self.elapsed.as_micros()).unwrap_or(u64::MAX);
        let phase = self.timeline.phase_at(elapsed_us);
        let last = self.points.values().next_back();
        Headline {
            elapsed_s: self.elapsed.as_secs_f64(),
            phase: phase.map(|p| p.name.clone()),
            phase_left_s: phase.map_or(0.0, |p| p.end_us().saturating_sub(elapsed_us) as f64 / 1e6),
            run_left_s: self.timeline.total_us.saturating_sub(elapsed_us) as f64 / 1e6,
            target_rps: last.map_or(0.0, |p| p.target_rps),
            achieved_rps: last.map_or(0.0, |p| p.achieved_rps),
            requests: result.total.requests,
            errors: result.total.errors,
            dropped: result.total.dropped,
        }
    }
}

fn phase_name(timeline: &Timeline, layout: &Layout, mid_us: u64) -> String {
    timeline
        .phase_at(mid_us)
        .and_then(|p| layout.phases.get(p.index))
        .cloned()
        .unwrap_or_default()
}

fn target_at(timeline: &Timeline, mid_us: u64) -> f64 {
    match timeline.phase_at(mid_us) {
        Some(p) if p.is_open() => p
            .schedule(&AgentShare::solo())
            .target_rate_at(mid_us - p.start_us),
        _ => 0.0,
    }
}

fn empty_point(k: u64, timeline: &Timeline, layout: &Layout) -> SeriesPoint {
    point_of(k, &WindowAcc::new(), timeline, layout)
}

/// Second `k`'s point as the runtime's series draws a one-second window.
fn point_of(k: u64, acc: &WindowAcc, timeline: &Timeline, layout: &Layout) -> SeriesPoint {
    point_over(k, 1, acc, timeline, layout)
}

/// The point of `seconds` seconds from second `k`, as the runtime's series draws a window
/// that long: rates per second of it, the plan's at its middle.
fn point_over(
    k: u64,
    seconds: u64,
    acc: &WindowAcc,
    timeline: &Timeline,
    layout: &Layout,
) -> SeriesPoint {
    let mid = k
        .saturating_mul(1_000_000)
        .saturating_add(seconds.saturating_mul(500_000));
    Window {
        t: k,
        seconds: seconds as f64,
        phase: &phase_name(timeline, layout, mid),
        target_rps: target_at(timeline, mid),
        started: acc.started,
        errors: acc.errors,
        dropped: acc.dropped,
        response: &acc.response,
        paused: 0.0,
    }
    .point()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_plan::plan;
    use proptest::prelude::*;
    use ptl_engine::record::ErrorClass;
    use ptl_engine::record::{Outcome, Timing};

    /// One agent's window: `latencies` (µs) answered, every `fail`-th one a 5xx.
    fn delta(live: &LiveRun, window: u64, latencies: &[u64], fail: usize) -> IntervalDelta {
        let (p, r, s) = live.recorded().dims();
        let mut rec = Recorded::new(p, r, s);
        for (i, &us) in latencies.iter().enumerate() {
            rec.started(0);
            let outcome = if fail > 0 && i % fail == 0 {
                Outcome::Failed {
                    class: ErrorClass::Status,
                    status: Some(500),
                }
            } else {
                Outcome::Success { status: 200 }
            };
            let timing = Timing {
                response_us: us,
                service_us: us,
                lag_us: 0,
            };
            rec.exchange(0, 0, Some(timing), outcome);
        }
        IntervalDelta {
            agent: 0,
            window,
            recorded: rec,
        }
    }

    proptest! {
        /// Whatever order agents' deltas arrive in (within the revisable span), each second's
        /// point is exact: its counts are the window's, its max the window's slowest answer.
        #[test]
        fn points_are_exact_whatever_the_arrival_order(
            windows in proptest::collection::vec(
                (0u64..6, proptest::collection::vec(1u64..500_000, 1..20), 0usize..4),
                1..24,
            ),
            seed in any::<u64>(),
        ) {
            let mut live = LiveRun::new(plan(), "h".into(), SystemTime::UNIX_EPOCH);
            let mut order: Vec<usize> = (0..windows.len()).collect();
            // A deterministic shuffle from the seed.
            let mut x = seed | 1;
            for i in (1..order.len()).rev() {
                x ^= x << 13; x ^= x >> 7; x ^= x << 17;
                order.swap(i, (x % (i as u64 + 1)) as usize);
            }
            for &i in &order {
                let (w, lat, fail) = &windows[i];
                let d = delta(&live, *w, lat, *fail);
                live.add(&d).expect("same shape");
            }
            let series = live.series();
            for point in &series {
                let mine: Vec<&(u64, Vec<u64>, usize)> =
                    windows.iter().filter(|(w, _, _)| *w == point.t).collect();
                let started: usize = mine.iter().map(|(_, l, _)| l.len()).sum();
                let errors: usize = mine
                    .iter()
                    .map(|(_, l, f)| if *f == 0 { 0 } else { l.len().div_ceil(*f) })
                    .sum();
                let slowest = mine.iter().flat_map(|(_, l, _)| l.iter()).max().copied().unwrap_or(0);
                prop_assert_eq!(point.achieved_rps, started as f64);
                prop_assert_eq!(point.errors, errors as u64);
                // HdrHistogram keeps 3 significant digits.
                prop_assert!((point.max_ms - slowest as f64 / 1000.0).abs() <= slowest as f64 / 1000.0 * 0.001 + 0.001);
            }
            let total: u64 = windows.iter().map(|(_, l, _)| l.len() as u64).sum();
            live.set_elapsed(Duration::from_secs(6));
            prop_assert_eq!(live.result().total.requests, total);
            prop_assert_eq!(series.iter().map(|p| p.achieved_rps).sum::<f64>(), total as f64);
        }

        /// A bounded series keeps every count however long the run.
        #[test]
        fn a_bounded_series_keeps_the_counts(seconds in 1u64..200, cap in 2usize..16) {
            let mut live = LiveRun::with_cap(plan(), "h".into(), SystemTime::UNIX_EPOCH, cap);
            for w in 0..seconds {
                let d = delta(&live, w, &[1000, 2000], 2);
                live.add(&d).expect("same shape");
            }
            let series = live.series();
            prop_assert!(series.len() <= cap, "{} points for a cap of {}", series.len(), cap);
            prop_assert_eq!(series.iter().map(|p| p.errors).sum::<u64>(), seconds);
            prop_assert!(series.windows(2).all(|w| w[0].t < w[1].t));
        }
    }

    #[test]
    fn a_wide_interval_of_a_restart_is_one_point_of_its_rate() {
        let mut live = LiveRun::new(plan(), "h".into(), SystemTime::UNIX_EPOCH);
        let wide = delta(&live, 0, &[1000; 40], 4);
        live.add_span(&wide, 4).expect("same shape");
        let next = delta(&live, 4, &[1000; 7], 0);
        live.add_span(&next, 1).expect("same shape");
        let series = live.series();
        let points: Vec<(u64, f64, u64)> = series
            .iter()
            .map(|p| (p.t, p.achieved_rps, p.errors))
            .collect();
        // 40 arrivals over 4 s, 10 of them errors: one point, 10/s; then second 4's own.
        assert_eq!(points, [(0, 10.0, 10), (4, 7.0, 0)]);
        let started: u64 = live.recorded().phase.iter().map(|p| p.started).sum();
        assert_eq!(started, 47);
    }

    #[test]
    fn a_late_delta_still_counts_and_changed_points_are_handed_once() {
        let mut live = LiveRun::new(plan(), "h".into(), SystemTime::UNIX_EPOCH);
        for w in 0..20 {
            let d = delta(&live, w, &[1000], 0);
            live.add(&d).expect("same shape");
        }
        let (changed, reset) = live.take_changed();
        assert_eq!(changed.len(), 20);
        assert!(!reset);
        let late = delta(&live, 0, &[9000, 9000], 1);
        live.add(&late).expect("same shape");
        let (changed, _) = live.take_changed();
        assert_eq!(changed.len(), 1);
        assert_eq!(changed[0].t, 0);
        assert_eq!(changed[0].achieved_rps, 3.0);
        assert_eq!(changed[0].errors, 2);
        assert!(live.take_changed().0.is_empty());
    }

    #[test]
    fn a_delta_of_another_shape_is_refused() {
        let mut live = LiveRun::new(plan(), "h".into(), SystemTime::UNIX_EPOCH);
        let other = IntervalDelta {
            agent: 0,
            window: 0,
            recorded: Recorded::new(3, 3, 0),
        };
        assert!(live.add(&other).is_err());
        assert!(live.series().is_empty());
    }
}
