//! The run's per-second windows summed over every agent, handed in order to the runtime's own
//! [`Collector`] — the code that builds `ptl run`'s cumulative record, series and progress — once
//! no agent can still add to them. So a cluster run's series is built exactly as a local run's,
//! from exact sums (counts and histogram buckets add; nothing is averaged).
//!
//! Agents' deltas arrive out of step with each other; a second is complete when every agent
//! still running has reported a later one (the coordinator decides that and calls
//! [`MergedWindows::advance`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use ptl_bytecode::Plan;
use ptl_engine::record::series::DEFAULT_CAP;
use ptl_engine::record::{Layout, Recorded};
use ptl_engine::result::SeriesPoint;
use ptl_engine::runner::collect::Collector;
use ptl_engine::runner::pause_clock::PauseClock;
use ptl_engine::runner::timeline::Timeline;
use ptl_engine::vm::AgentShare;
use ptl_engine::Progress;

use crate::coordinator::merge_mark::Span;

/// One second of the run, summed over the agents that reported it.
struct Pending {
    recorded: Recorded,
    /// The longest contribution: 1 s, or less for a last, partial window.
    seconds: f64,
}

pub struct MergedWindows {
    collector: Collector,
    pending: BTreeMap<u64, Pending>,
    /// The next second to hand to the collector.
    next: u64,
    dims: (usize, usize, usize),
    progress: Option<Progress>,
    /// The run's pauses: the seconds they cover are planned at no rate.
    pauses: PauseClock,
    /// Seconds handed to the collector since [`MergedWindows::take_handed`], empty ones
    /// included: replayed in order they rebuild the collector (`merge_mark`).
    handed: Vec<Span>,
}

/// A delta whose shape is not the plan's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    pub delta: (usize, usize, usize),
    pub plan: (usize, usize, usize),
}

impl std::fmt::Display for ShapeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "delta shape {:?} does not match the plan's {:?}",
            self.delta, self.plan
        )
    }
}

impl MergedWindows {
    /// For the whole cluster's run of `plan`: planned rates are the plan's own (one agent with
    /// all of the load).
    pub fn new(plan: &Plan) -> MergedWindows {
        let layout = Layout::of(plan);
        let dims = (
            layout.phases.len(),
            layout.requests.len(),
            layout.scenarios.len(),
        );
        let timeline = Timeline::of(plan, &AgentShare::solo());
        MergedWindows {
            collector: Collector::new(
                Arc::new(layout),
                Arc::new(timeline),
                AgentShare::solo(),
                DEFAULT_CAP,
            ),
            pending: BTreeMap::new(),
            next: 0,
            dims,
            progress: None,
            pauses: PauseClock::default(),
            handed: Vec::new(),
        }
    }

    /// The run's pauses as known now (they only grow), for the seconds handed over next.
    pub fn set_pauses(&mut self, pauses: PauseClock) {
        self.pauses = pauses;
    }

    /// Adds one agent's window for second `second` of the run, `seconds` long (1, or less for
    /// its last window). A second already handed over cannot change any more: a late window is
    /// counted in the next open second rather than lost. Returns the second it went into.
    pub fn add(
        &mut self,
        second: u64,
        seconds: f64,
        delta: &Recorded,
    ) -> Result<u64, ShapeMismatch> {
        if delta.dims() != self.dims {
            return Err(ShapeMismatch {
                delta: delta.dims(),
                plan: self.dims,
            });
        }
        let second = second.max(self.next);
        let dims = self.dims;
        let slot = self.pending.entry(second).or_insert_with(|| Pending {
            recorded: Recorded::new(dims.0, dims.1, dims.2),
            seconds: 0.0,
        });
        slot.recorded.merge(delta);
        slot.seconds = slot.seconds.max(seconds.clamp(0.0, 1.0));
        Ok(second)
    }

    /// Hands a span of the merge mark's history straight to the collector (a coordinator
    /// resuming the run): `span.count` seconds as one window, as exact in its sums as the
    /// seconds it replaces, only wider.
    pub fn replay(&mut self, span: &Span) -> Result<(), ShapeMismatch> {
        if span.recorded.dims() != self.dims {
            return Err(ShapeMismatch {
                delta: span.recorded.dims(),
                plan: self.dims,
            });
        }
        let first = span.first.max(self.next);
        let length = span.length.clamp(0.0, span.count.max(1) as f64);
        self.progress = Some(
            self.collector
                .window(first, length, &span.recorded, &self.pauses),
        );
        self.next = first + span.count.max(1);
        Ok(())
    }

    /// The next second to be handed over: every earlier one is in the collector.
    pub fn next_second(&self) -> u64 {
        self.next
    }

    /// The seconds handed over since the last call, in order.
    pub fn take_handed(&mut self) -> Vec<Span> {
        std::mem::take(&mut self.handed)
    }

    /// Hands every second before `complete_before` that has data, and the empty seconds
    /// between them, to the collector in order. Returns whether any was.
    pub fn advance(&mut self, complete_before: u64) -> bool {
        let Some(&last) = self.pending.keys().next_back() else {
            return false;
        };
        let end = complete_before.min(last.saturating_add(1));
        let moved = self.next < end;
        while self.next < end {
            let second = self.next;
            let (recorded, seconds) = match self.pending.remove(&second) {
                Some(p) => (p.recorded, p.seconds),
                None => (Recorded::new(self.dims.0, self.dims.1, self.dims.2), 1.0),
            };
            self.progress = Some(
                self.collector
                    .window(second, seconds, &recorded, &self.pauses),
            );
            self.handed.push(Span::second(second, seconds, recorded));
            self.next += 1;
        }
        moved
    }

    /// The snapshot after the last second handed over (as `ptl run` shows once a second).
    pub fn progress(&self) -> Option<&Progress> {
        self.progress.as_ref()
    }

    /// Everything handed over so far, summed.
    pub fn cumulative(&self) -> &Recorded {
        &self.collector.cumulative
    }

    /// The expression of the first `abort` threshold crossed by the seconds handed over.
    pub fn crossed_abort(&self, plan: &Plan) -> Option<String> {
        self.collector.crossed_abort(plan)
    }

    /// Hands over whatever is left and returns the cumulative record and the series.
    pub fn finish(mut self) -> (Recorded, Vec<SeriesPoint>) {
        self.advance(u64::MAX);
        (self.collector.cumulative, self.collector.series.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use ptl_engine::record::{Outcome, Timing};
    use ptl_test_support::plans::{one_request, NOWHERE};

    /// `n` arrivals answered in `us` µs each.
    fn window(n: u64, us: u64) -> Recorded {
        let mut r = Recorded::new(1, 1, 1);
        for _ in 0..n {
            r.started(0);
            let t = Timing {
                response_us: us,
                service_us: us,
                lag_us: 0,
            };
            r.exchange(0, 0, Some(t), Outcome::Success { status: 200 });
        }
        r
    }

    #[test]
    fn seconds_wait_until_complete_and_sum_every_agent() {
        let plan = one_request(NOWHERE, 100.0, 3_000_000);
        let mut w = MergedWindows::new(&plan);
        w.add(0, 1.0, &window(30, 1000)).expect("shape");
        w.add(1, 1.0, &window(30, 1000)).expect("shape");
        // Another agent's second 0 arrives later; nothing was handed over yet.
        assert!(!w.advance(0));
        w.add(0, 1.0, &window(20, 5000)).expect("shape");
        assert!(w.advance(1));
        let progress = w.progress().expect("one second in");
        assert_eq!(progress.requests, 50);
        assert_eq!(progress.achieved_rps, 50.0);
        let (recorded, series) = w.finish();
        assert_eq!(series.len(), 2);
        assert_eq!(series[0].achieved_rps, 50.0);
        assert_eq!(series[0].target_rps, 100.0);
        assert_eq!(series[0].phase, "steady");
        // The merged histogram holds both agents' values: the max is the slower agent's.
        assert!((series[0].max_ms - 5.0).abs() < 0.01, "{:?}", series[0]);
        assert_eq!(series[1].achieved_rps, 30.0);
        let stats = recorded.request_stats(0, 0).expect("cell");
        assert_eq!(stats.completed, 80);
    }

    #[test]
    fn gaps_are_empty_seconds_and_a_partial_last_window_keeps_its_length() {
        let plan = one_request(NOWHERE, 100.0, 3_000_000);
        let mut w = MergedWindows::new(&plan);
        w.add(0, 1.0, &window(10, 1000)).expect("shape");
        w.add(2, 0.5, &window(10, 1000)).expect("shape");
        let (_, series) = w.finish();
        let t: Vec<u64> = series.iter().map(|p| p.t).collect();
        assert_eq!(t, [0, 1, 2]);
        assert_eq!(series[1].achieved_rps, 0.0);
        assert_eq!(series[2].achieved_rps, 20.0, "10 arrivals in half a second");
    }

    #[test]
    fn a_late_window_is_counted_in_the_next_open_second_and_shapes_are_checked() {
        let plan = one_request(NOWHERE, 100.0, 3_000_000);
        let mut w = MergedWindows::new(&plan);
        w.add(0, 1.0, &window(10, 1000)).expect("shape");
        assert!(w.advance(1));
        w.add(0, 1.0, &window(5, 1000)).expect("shape");
        assert!(w.add(1, 1.0, &Recorded::new(2, 1, 1)).is_err());
        let (recorded, series) = w.finish();
        assert_eq!(series.len(), 2);
        assert_eq!(series[1].achieved_rps, 5.0);
        assert_eq!(recorded.request_stats(0, 0).map(|s| s.completed), Some(15));
    }

    #[test]
    fn a_replayed_wide_span_counts_as_the_seconds_it_sums() {
        let plan = one_request(NOWHERE, 100.0, 6_000_000);
        let mut first = MergedWindows::new(&plan);
        for s in 0..4 {
            first
                .add(s, 1.0, &window(10 * (s + 1), 1000))
                .expect("shape");
        }
        first.advance(4);
        let mut handed = first.take_handed().into_iter();
        let mut span = handed.next().expect("second 0");
        for s in handed {
            span.count += s.count;
            span.length += s.length;
            span.recorded.merge(&s.recorded);
        }
        // A coordinator resuming the run: the four seconds as one interval, then second 4.
        let mut resumed = MergedWindows::new(&plan);
        resumed.replay(&span).expect("shape");
        assert_eq!(resumed.next_second(), 4);
        resumed.add(4, 1.0, &window(7, 1000)).expect("shape");
        let (recorded, series) = resumed.finish();
        assert_eq!(recorded.request_stats(0, 0).map(|s| s.completed), Some(107));
        let points: Vec<(u64, f64)> = series.iter().map(|p| (p.t, p.achieved_rps)).collect();
        assert_eq!(
            points,
            [(0, 25.0), (4, 7.0)],
            "100 arrivals over 4 s, then 7"
        );
        assert!(resumed_shape_is_checked(&plan));
    }

    fn resumed_shape_is_checked(plan: &Plan) -> bool {
        let mut w = MergedWindows::new(plan);
        w.replay(&Span::second(0, 1.0, Recorded::new(2, 1, 1)))
            .is_err()
    }

    proptest! {
        /// However agents' windows interleave, the merged record and every point's count are the
        /// sums of what the agents sent in that second.
        #[test]
        fn any_arrival_order_sums_exactly(
            windows in prop::collection::vec((0u64..3, 0u64..6, 0u64..40, 100u64..50_000), 0..60),
        ) {
            let plan = one_request(NOWHERE, 100.0, 6_000_000);
            let mut w = MergedWindows::new(&plan);
            let mut by_second = BTreeMap::<u64, u64>::new();
            for &(_agent, second, n, us) in &windows {
                w.add(second, 1.0, &window(n, us)).expect("shape");
                *by_second.entry(second).or_default() += n;
            }
            let (recorded, series) = w.finish();
            let total: u64 = by_second.values().sum();
            prop_assert_eq!(recorded.request_stats(0, 0).map_or(0, |s| s.completed), total);
            for point in &series {
                let want = by_second.get(&point.t).copied().unwrap_or(0);
                prop_assert_eq!(point.achieved_rps, want as f64);
            }
            prop_assert_eq!(series.len() as u64, by_second.keys().next_back().map_or(0, |s| s + 1));
        }
    }
}
