//! What one worker records: per phase × request histograms (response time from the intended
//! send, service time from the actual send, schedule lag) and outcome counters, per phase ×
//! scenario iteration counts, per phase arrival counts. Plain owned data, no locks: each worker
//! records into its own [`Recorded`] and hands it over whole once a second (see `take`), and
//! the orchestrator merges those exactly.

use super::classes::{ErrorClass, FaultKind};
use hdrhistogram::Histogram;

pub type Hist = Histogram<u64>;

/// Significant digits of every histogram: 0.1 % value resolution.
pub const SIGFIG: u8 = 3;

/// An empty auto-resizing histogram of microseconds.
pub fn new_histogram() -> Hist {
    // Only the constant SIGFIG reaches the constructor, and 3 is always valid.
    Histogram::new(SIGFIG).expect("3 significant figures is a valid histogram precision")
}

/// Records one value. `saturating_record` would clamp to the current size instead of growing
/// the histogram, so this records normally and only saturates values beyond any range.
pub fn record_value(h: &mut Hist, value: u64) {
    if h.record(value).is_err() {
        h.saturating_record(value);
    }
}

/// Adds `from` into `into`. Both auto-resize, so the addition cannot run out of range; should
/// it ever fail, the values are re-recorded one bucket at a time so that no count is lost.
pub fn add_histogram(into: &mut Hist, from: &Hist) {
    if into.add(from).is_err() {
        for v in from.iter_recorded() {
            if into
                .record_n(v.value_iterated_to(), v.count_at_value())
                .is_err()
            {
                into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
            }
        }
    }
}

/// The three latency histograms of one request, all in microseconds.
#[derive(Debug, Clone)]
pub struct Latencies {
    /// From the intended send time (coordinated-omission free).
    pub response: Hist,
    /// From the actual send.
    pub service: Hist,
    /// Actual send minus intended send.
    pub lag: Hist,
}

impl Default for Latencies {
    fn default() -> Self {
        Latencies {
            response: new_histogram(),
            service: new_histogram(),
            lag: new_histogram(),
        }
    }
}

impl Latencies {
    pub fn add(&mut self, other: &Latencies) {
        add_histogram(&mut self.response, &other.response);
        add_histogram(&mut self.service, &other.service);
        add_histogram(&mut self.lag, &other.lag);
    }

    pub fn reset(&mut self) {
        self.response.reset();
        self.service.reset();
        self.lag.reset();
    }
}

/// One exchange's times in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub response_us: u64,
    pub service_us: u64,
    pub lag_us: u64,
}

/// How one request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success {
        status: u16,
    },
    Failed {
        class: ErrorClass,
        status: Option<u16>,
    },
    /// A request that carried an injected fault: counted by kind, never as an error.
    Injected {
        kind: FaultKind,
    },
}

#[derive(Debug, Clone, Default)]
pub struct RequestStats {
    /// Requests that ended, with any outcome (errors and injected included).
    pub completed: u64,
    pub errors: [u64; ErrorClass::COUNT],
    /// Arrivals dropped before this (first) request of their iteration could start.
    pub dropped: u64,
    /// Of `completed`, requests sent after their phase's end (a request that never reached the
    /// wire counts by the instant it failed): they do not count toward the phase's achieved rate.
    pub sent_after_end: u64,
    /// Scenario steps not run because an earlier step ended the iteration.
    pub skipped: u64,
    pub injected: [u64; FaultKind::COUNT],
    /// (status, count), in first-seen order; a handful of entries in practice.
    pub statuses: Vec<(u16, u64)>,
    /// Allocated on first use: most phase × request pairs of a window see nothing.
    pub latency: Option<Box<Latencies>>,
    /// Requests that found every connection of their host's pool busy and waited for one:
    /// the plan's `connections` (or the target's latency at this rate) was the limit, not the
    /// generator.
    pub pool_waits: u64,
    /// Their waiting, µs in all (left out of the schedule lag).
    pub pool_wait_us: u64,
}

impl RequestStats {
    pub fn error_total(&self) -> u64 {
        self.errors.iter().sum()
    }

    pub fn injected_total(&self) -> u64 {
        self.injected.iter().sum()
    }

    /// Requests sent within their phase's time window: what the achieved rate counts.
    pub fn completed_in_time(&self) -> u64 {
        self.completed.saturating_sub(self.sent_after_end)
    }

    fn count_status(&mut self, status: u16) {
        match self.statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => self.statuses.push((status, 1)),
        }
    }

    pub fn add(&mut self, other: &RequestStats) {
        self.completed += other.completed;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (a, b) in self.injected.iter_mut().zip(other.injected) {
            *a += b;
        }
        self.dropped += other.dropped;
        self.sent_after_end += other.sent_after_end;
        self.skipped += other.skipped;
        self.pool_waits += other.pool_waits;
        self.pool_wait_us += other.pool_wait_us;
        for &(status, n) in &other.statuses {
            match self.statuses.iter_mut().find(|(s, _)| *s == status) {
                Some((_, m)) => *m += n,
                None => self.statuses.push((status, n)),
            }
        }
        if let Some(theirs) = &other.latency {
            self.latency.get_or_insert_with(Box::default).add(theirs);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.completed == 0 && self.dropped == 0 && self.skipped == 0
    }
}

#[derive(Debug, Clone, Default)]
pub struct ScenarioStats {
    /// Iterations started.
    pub iterations: u64,
    /// Iterations whose every step succeeded.
    pub completed: u64,
    /// Iterations ended by a failed step.
    pub failed: u64,
    /// Arrivals of this scenario dropped before they could start.
    pub dropped: u64,
    /// Of `iterations`, those that started after their phase's end.
    pub sent_after_end: u64,
    /// Completed iterations, from the intended start to the end of the last step, in µs.
    pub iteration_time: Option<Box<Hist>>,
}

impl ScenarioStats {
    pub fn add(&mut self, other: &ScenarioStats) {
        self.iterations += other.iterations;
        self.completed += other.completed;
        self.failed += other.failed;
        self.dropped += other.dropped;
        self.sent_after_end += other.sent_after_end;
        if let Some(theirs) = &other.iteration_time {
            let mine = self
                .iteration_time
                .get_or_insert_with(|| Box::new(new_histogram()));
            add_histogram(mine, theirs);
        }
    }
}

/// Arrival counts of one phase.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PhaseCounts {
    /// Arrivals the schedule asked for.
    pub planned: u64,
    /// Arrivals that started (on time or late).
    pub started: u64,
    /// Arrivals counted as dropped (no in-flight slot under `overflow drop`, or still queued
    /// when the run ended).
    pub dropped: u64,
    /// Of `started`, arrivals sent after the phase's end (queued, or waiting for a connection,
    /// past it): started, but not within the phase, so not part of its achieved rate.
    pub sent_after_end: u64,
    /// Iterations that could not start because a `unique` feeder had no row left: in an open
    /// phase also counted in `dropped`; in a closed phase, each stops one user.
    pub exhausted: u64,
}

impl PhaseCounts {
    pub fn add(&mut self, other: &PhaseCounts) {
        self.planned += other.planned;
        self.started += other.started;
        self.dropped += other.dropped;
        self.sent_after_end += other.sent_after_end;
        self.exhausted += other.exhausted;
    }

    /// Arrivals started within the phase's time window: what its achieved rate counts.
    pub fn started_in_time(&self) -> u64 {
        self.started.saturating_sub(self.sent_after_end)
    }
}

/// The generator's own work over the span: CPU it used and CPU it had (wall time × cores), as
/// measured by the process; both add, so their ratio stays the CPU share of merged spans.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeneratorCounts {
    pub cpu_us: u64,
    pub cores_us: u64,
}

impl GeneratorCounts {
    /// Share (0..=1) of its cores the process used; `None` where it was not measured.
    pub fn cpu_share(&self) -> Option<f64> {
        (self.cores_us > 0).then(|| (self.cpu_us as f64 / self.cores_us as f64).min(1.0))
    }

    pub fn add(&mut self, other: &GeneratorCounts) {
        self.cpu_us += other.cpu_us;
        self.cores_us += other.cores_us;
    }
}

/// Everything recorded for one plan over some span of time (a second, or the whole run).
#[derive(Debug, Clone)]
pub struct Recorded {
    phases: usize,
    requests: usize,
    scenarios: usize,
    /// Per phase.
    pub phase: Vec<PhaseCounts>,
    /// Per phase × request: `phase * requests + request`.
    pub request: Vec<RequestStats>,
    /// Per phase × scenario: `phase * scenarios + scenario`.
    pub scenario: Vec<ScenarioStats>,
    pub generator: GeneratorCounts,
}

impl Recorded {
    pub fn new(phases: usize, requests: usize, scenarios: usize) -> Recorded {
        Recorded {
            phases,
            requests,
            scenarios,
            phase: vec![PhaseCounts::default(); phases],
            request: vec![RequestStats::default(); phases * requests],
            scenario: vec![ScenarioStats::default(); phases * scenarios],
            generator: GeneratorCounts::default(),
        }
    }

    /// (phases, requests, scenarios).
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.phases, self.requests, self.scenarios)
    }

    /// An empty `Recorded` of the same shape.
    pub fn empty_like(&self) -> Recorded {
        Recorded::new(self.phases, self.requests, self.scenarios)
    }

    /// Hands over what was recorded so far and starts afresh.
    pub fn take(&mut self) -> Recorded {
        let empty = self.empty_like();
        std::mem::replace(self, empty)
    }

    pub fn request_stats(&self, phase: usize, request: usize) -> Option<&RequestStats> {
        if request >= self.requests {
            return None;
        }
        self.request.get(phase * self.requests + request)
    }

    pub fn scenario_stats(&self, phase: usize, scenario: usize) -> Option<&ScenarioStats> {
        if scenario >= self.scenarios {
            return None;
        }
        self.scenario.get(phase * self.scenarios + scenario)
    }

    fn request_mut(&mut self, phase: usize, request: usize) -> Option<&mut RequestStats> {
        if request >= self.requests {
            return None;
        }
        self.request.get_mut(phase * self.requests + request)
    }

    fn scenario_mut(&mut self, phase: usize, scenario: usize) -> Option<&mut ScenarioStats> {
        if scenario >= self.scenarios {
            return None;
        }
        self.scenario.get_mut(phase * self.scenarios + scenario)
    }

    pub fn planned(&mut self, phase: usize, n: u64) {
        if let Some(p) = self.phase.get_mut(phase) {
            p.planned += n;
        }
    }

    pub fn started(&mut self, phase: usize) {
        if let Some(p) = self.phase.get_mut(phase) {
            p.started += 1;
        }
    }

    /// An iteration a `unique` feeder could not give a row to (see [`PhaseCounts::exhausted`]).
    pub fn exhausted(&mut self, phase: usize) {
        if let Some(p) = self.phase.get_mut(phase) {
            p.exhausted += 1;
        }
    }

    /// An arrival that will never run: counted on the phase, its scenario and its first request.
    pub fn dropped(&mut self, phase: usize, scenario: usize, first_request: Option<usize>) {
        if let Some(p) = self.phase.get_mut(phase) {
            p.dropped += 1;
        }
        if let Some(s) = self.scenario_mut(phase, scenario) {
            s.dropped += 1;
        }
        if let Some(r) = first_request.and_then(|r| self.request_mut(phase, r)) {
            r.dropped += 1;
        }
    }

    /// A request of `phase` that was sent after the phase's end (counted besides its outcome,
    /// which [`exchange`](Self::exchange) records).
    pub fn request_after_end(&mut self, phase: usize, request: usize) {
        if let Some(r) = self.request_mut(phase, request) {
            r.sent_after_end += 1;
        }
    }

    /// An arrival of `phase` (already counted as started) that was sent after the phase's end.
    pub fn arrival_after_end(&mut self, phase: usize, scenario: usize) {
        if let Some(p) = self.phase.get_mut(phase) {
            p.sent_after_end += 1;
        }
        if let Some(s) = self.scenario_mut(phase, scenario) {
            s.sent_after_end += 1;
        }
    }

    pub fn iteration_started(&mut self, phase: usize, scenario: usize) {
        if let Some(s) = self.scenario_mut(phase, scenario) {
            s.iterations += 1;
        }
    }

    /// `time_us` is recorded for completed iterations only.
    pub fn iteration_ended(
        &mut self,
        phase: usize,
        scenario: usize,
        completed: bool,
        time_us: u64,
    ) {
        if let Some(s) = self.scenario_mut(phase, scenario) {
            if completed {
                s.completed += 1;
                let h = s
                    .iteration_time
                    .get_or_insert_with(|| Box::new(new_histogram()))
                    .as_mut();
                record_value(h, time_us);
            } else {
                s.failed += 1;
            }
        }
    }

    /// A request waited `us` for a connection of its host's pool.
    pub fn pool_wait(&mut self, phase: usize, request: usize, us: u64) {
        if let Some(r) = self.request_mut(phase, request) {
            r.pool_waits += 1;
            r.pool_wait_us += us;
        }
    }

    pub fn skipped(&mut self, phase: usize, request: usize) {
        if let Some(r) = self.request_mut(phase, request) {
            r.skipped += 1;
        }
    }

    /// One request that ended. `timing` is recorded when the request has a meaningful time
    /// (it got an answer or timed out); injected requests never touch the histograms.
    pub fn exchange(
        &mut self,
        phase: usize,
        request: usize,
        timing: Option<Timing>,
        outcome: Outcome,
    ) {
        let Some(r) = self.request_mut(phase, request) else {
            return;
        };
        r.completed += 1;
        match outcome {
            Outcome::Success { status } => r.count_status(status),
            Outcome::Failed { class, status } => {
                r.errors[class.index()] += 1;
                if let Some(status) = status {
                    r.count_status(status);
                }
            }
            Outcome::Injected { kind } => {
                r.injected[kind.index()] += 1;
                return;
            }
        }
        if let Some(t) = timing {
            let l = r.latency.get_or_insert_with(Box::default);
            record_value(&mut l.response, t.response_us);
            record_value(&mut l.service, t.service_us);
            record_value(&mut l.lag, t.lag_us);
        }
    }

    /// Adds `other` (same shape) into `self`. Exact: counts and histogram buckets add.
    pub fn merge(&mut self, other: &Recorded) {
        for (a, b) in self.phase.iter_mut().zip(&other.phase) {
            a.add(b);
        }
        for (a, b) in self.request.iter_mut().zip(&other.request) {
            a.add(b);
        }
        for (a, b) in self.scenario.iter_mut().zip(&other.scenario) {
            a.add(b);
        }
        self.generator.add(&other.generator);
    }

    /// True when nothing at all was recorded.
    pub fn is_empty(&self) -> bool {
        self.phase.iter().all(|p| *p == PhaseCounts::default())
            && self.request.iter().all(RequestStats::is_empty)
            && self
                .scenario
                .iter()
                .all(|s| s.iterations == 0 && s.dropped == 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn timing(us: u64) -> Option<Timing> {
        Some(Timing {
            response_us: us,
            service_us: us / 2,
            lag_us: us - us / 2,
        })
    }

    #[test]
    fn outcomes_land_in_their_counters() {
        let mut r = Recorded::new(1, 2, 1);
        r.exchange(0, 0, timing(100), Outcome::Success { status: 200 });
        r.exchange(
            0,
            0,
            timing(300),
            Outcome::Failed {
                class: ErrorClass::Status,
                status: Some(500),
            },
        );
        r.exchange(
            0,
            0,
            None,
            Outcome::Failed {
                class: ErrorClass::Connect,
                status: None,
            },
        );
        r.exchange(
            0,
            1,
            timing(9),
            Outcome::Injected {
                kind: FaultKind::Abort,
            },
        );
        r.dropped(0, 0, Some(1));
        let a = r.request_stats(0, 0).expect("in range");
        assert_eq!(a.completed, 3);
        assert_eq!(a.errors[ErrorClass::Status.index()], 1);
        assert_eq!(a.errors[ErrorClass::Connect.index()], 1);
        assert_eq!(a.statuses, vec![(200, 1), (500, 1)]);
        let lat = a.latency.as_ref().expect("recorded");
        assert_eq!(lat.response.len(), 2);
        assert_eq!(lat.response.max(), lat.response.highest_equivalent(300));
        let b = r.request_stats(0, 1).expect("in range");
        assert_eq!(
            (b.completed, b.injected_total(), b.error_total(), b.dropped),
            (1, 1, 0, 1)
        );
        assert!(
            b.latency.is_none(),
            "injected requests stay out of the histograms"
        );
        assert_eq!(r.phase[0].dropped, 1);
        r.started(0);
        r.started(0);
        r.arrival_after_end(0, 0);
        r.request_after_end(0, 0);
        assert_eq!((r.phase[0].started, r.phase[0].sent_after_end), (2, 1));
        assert_eq!(r.phase[0].started_in_time(), 1);
        assert_eq!(r.scenario_stats(0, 0).map(|s| s.sent_after_end), Some(1));
        let a = r.request_stats(0, 0).expect("in range");
        assert_eq!((a.sent_after_end, a.completed_in_time()), (1, 2));
        // Out-of-range indices are ignored, never a panic.
        r.exchange(5, 9, timing(1), Outcome::Success { status: 200 });
        r.request_after_end(5, 9);
        r.arrival_after_end(5, 9);
    }

    proptest! {
        #[test]
        fn merging_is_exact(values in proptest::collection::vec((0usize..2, 1u64..5_000_000, any::<bool>()), 0..200), split in 0usize..200) {
            let mut whole = Recorded::new(2, 1, 1);
            let mut left = Recorded::new(2, 1, 1);
            let mut right = Recorded::new(2, 1, 1);
            for (i, &(phase, us, ok)) in values.iter().enumerate() {
                let outcome = if ok { Outcome::Success { status: 200 } } else { Outcome::Failed { class: ErrorClass::Timeout, status: None } };
                // Every third arrival went out after its phase's end.
                let late = us % 3 == 0;
                let part = if i < split { &mut left } else { &mut right };
                for r in [&mut whole, part] {
                    r.exchange(phase, 0, timing(us), outcome);
                    r.planned(phase, 1);
                    r.started(phase);
                    r.iteration_started(phase, 0);
                    if late {
                        r.request_after_end(phase, 0);
                        r.arrival_after_end(phase, 0);
                    }
                }
            }
            left.merge(&right);
            for phase in 0..2 {
                let a = whole.request_stats(phase, 0).expect("in range");
                let b = left.request_stats(phase, 0).expect("in range");
                prop_assert_eq!(a.completed, b.completed);
                prop_assert_eq!(a.errors, b.errors);
                prop_assert_eq!(a.sent_after_end, b.sent_after_end);
                prop_assert_eq!(whole.phase[phase], left.phase[phase]);
                let late = values.iter().filter(|&&(p, us, _)| p == phase && us % 3 == 0).count() as u64;
                let all = values.iter().filter(|&&(p, _, _)| p == phase).count() as u64;
                prop_assert_eq!(b.sent_after_end, late);
                prop_assert_eq!(b.completed_in_time(), all - late);
                prop_assert_eq!(left.phase[phase].started_in_time(), all - late);
                let s = left.scenario_stats(phase, 0).expect("in range");
                prop_assert_eq!((s.iterations, s.sent_after_end), (all, late));
                match (&a.latency, &b.latency) {
                    (None, None) => {}
                    (Some(x), Some(y)) => {
                        prop_assert_eq!(&x.response, &y.response);
                        prop_assert_eq!(&x.service, &y.service);
                        prop_assert_eq!(&x.lag, &y.lag);
                    }
                    _ => prop_assert!(false, "one side lost its histograms"),
                }
            }
        }
    }
}
