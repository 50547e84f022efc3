//! Plan time against wall time in a paused run. Plan time is what the timeline and the
//! schedules count in (µs from the run start, as if the run was never paused); wall time is
//! what the clock says (µs from the run start). Plan time stands still while the run is
//! paused, so every planned instant after a pause's start falls later by the pause's length,
//! and a phase keeps its planned running time.
//!
//! The exact rule, which every worker and the orchestrator apply alike so that they agree on
//! the schedule (and so on its count): a pause that began at wall `a`, when plan time had
//! reached `p`, holds back every planned instant `q > p`; an instant `q ≤ p` keeps its wall
//! time. So [`PauseClock::wall_of`]`(q) = q + ` the lengths of the pauses with `p < q`, and
//! [`PauseClock::plan_of`]`(w) = w − ` the paused time before `w`. A pause still running holds
//! back every later instant indefinitely (`wall_of` is `None`).

use crate::coordination::Pause;
use std::time::Instant;

/// One pause on the run's two clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Wall time the pause began at.
    pub at_us: u64,
    /// Wall time it ended at (`None`: still paused).
    pub until_us: Option<u64>,
    /// Plan time it began at: where plan time stood still.
    pub plan_us: u64,
}

impl Hold {
    /// Its length, if it has ended.
    pub fn len_us(&self) -> Option<u64> {
        self.until_us.map(|u| u - self.at_us)
    }

    /// The part of wall `[from, to)` it covers.
    fn overlap(&self, from: u64, to: u64) -> u64 {
        let start = self.at_us.max(from);
        let end = self.until_us.map_or(to, |u| u.min(to));
        end.saturating_sub(start)
    }
}

/// The pauses of a run, in order, none overlapping another; at most the last one still
/// running.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PauseClock {
    holds: Vec<Hold>,
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl PauseClock {
    /// From wall-time windows `(at, until)`, oldest first. A window starting before the end
    /// of the previous one is taken as starting at that end; an end before the start as the
    /// start; windows after one still running are ignored (the run is already paused).
    pub fn new(windows: impl IntoIterator<Item = (u64, Option<u64>)>) -> PauseClock {
        let mut holds: Vec<Hold> = Vec::new();
        let mut paused = 0u64;
        let mut floor = 0u64;
        for (at, until) in windows {
            if holds.last().is_some_and(|h| h.until_us.is_none()) {
                break;
            }
            let at_us = at.max(floor);
            let until_us = until.map(|u| u.max(at_us));
            holds.push(Hold {
                at_us,
                until_us,
                plan_us: at_us - paused,
            });
            if let Some(u) = until_us {
                paused = paused.saturating_add(u - at_us);
                floor = u;
            }
        }
        PauseClock { holds }
    }

    /// From the coordination's pauses, on a run that started at `run_start` (a pause from
    /// before the start counts from the start).
    pub fn from_pauses(pauses: &[Pause], run_start: Instant) -> PauseClock {
        let offset = |t: Instant| micros(t.saturating_duration_since(run_start));
        PauseClock::new(pauses.iter().map(|p| (offset(p.at), p.until.map(offset))))
    }

    /// Without the pauses that begin at plan time `plan_end_us` or later: the schedule is over
    /// by then (the run is draining), so they hold nothing back.
    pub fn before_plan(mut self, plan_end_us: u64) -> PauseClock {
        let keep = self.holds.partition_point(|h| h.plan_us < plan_end_us);
        self.holds.truncate(keep);
        self
    }

    pub fn holds(&self) -> &[Hold] {
        &self.holds
    }

    pub fn is_empty(&self) -> bool {
        self.holds.is_empty()
    }

    /// Plan time at wall time `wall_us`: non-decreasing, standing still while paused.
    pub fn plan_of(&self, wall_us: u64) -> u64 {
        wall_us - self.paused_between(0, wall_us)
    }

    /// Wall time of plan instant `plan_us`: increasing, never inside a pause; `None` while a
    /// running pause holds it back.
    pub fn wall_of(&self, plan_us: u64) -> Option<u64> {
        let mut wall = plan_us;
        for h in self.holds.iter().take_while(|h| h.plan_us < plan_us) {
            wall = wall.saturating_add(h.len_us()?);
        }
        Some(wall)
    }

    /// Whether the run is paused at wall time `wall_us`.
    pub fn paused_at(&self, wall_us: u64) -> bool {
        self.holds
            .iter()
            .any(|h| h.at_us <= wall_us && h.until_us.is_none_or(|u| wall_us < u))
    }

    /// Paused time within wall `[from_us, to_us)`.
    pub fn paused_between(&self, from_us: u64, to_us: u64) -> u64 {
        self.holds
            .iter()
            .take_while(|h| h.at_us < to_us)
            .map(|h| h.overlap(from_us, to_us))
            .fold(0, u64::saturating_add)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Closed pauses from (gap before, length) pairs, plus maybe a last one still running.
    fn clock_of(gaps: &[(u64, u64)], open_after: Option<u64>) -> PauseClock {
        let mut at = 0u64;
        let mut windows = Vec::new();
        for &(gap, len) in gaps {
            at += gap;
            windows.push((at, Some(at + len)));
            at += len;
        }
        if let Some(gap) = open_after {
            windows.push((at + gap, None));
        }
        PauseClock::new(windows)
    }

    #[test]
    fn a_pause_moves_later_instants_by_its_length() {
        let clock = PauseClock::new([(1_000, Some(1_500))]);
        assert_eq!(clock.wall_of(999), Some(999));
        assert_eq!(clock.wall_of(1_000), Some(1_000), "due as the pause begins");
        assert_eq!(clock.wall_of(1_001), Some(1_501));
        assert_eq!(clock.plan_of(1_200), 1_000);
        assert_eq!(clock.plan_of(2_000), 1_500);
        assert!(clock.paused_at(1_000) && clock.paused_at(1_499) && !clock.paused_at(1_500));
        assert_eq!(clock.paused_between(500, 1_200), 200);
    }

    #[test]
    fn a_running_pause_holds_everything_after_it() {
        let clock = PauseClock::new([(100, Some(200)), (1_000, None), (2_000, Some(3_000))]);
        assert_eq!(
            clock.holds().len(),
            2,
            "nothing after a pause still running"
        );
        assert_eq!(clock.wall_of(900), Some(1_000));
        assert_eq!(clock.wall_of(901), None);
        assert!(clock.paused_at(1_000_000));
        assert_eq!(clock.plan_of(5_000), 900);
    }

    #[test]
    fn overlapping_or_reversed_windows_are_straightened() {
        let clock = PauseClock::new([(100, Some(300)), (200, Some(250)), (400, Some(350))]);
        let spans: Vec<_> = clock
            .holds()
            .iter()
            .map(|h| (h.at_us, h.until_us))
            .collect();
        assert_eq!(
            spans,
            vec![(100, Some(300)), (300, Some(300)), (400, Some(400))]
        );
    }

    #[test]
    fn pauses_from_the_drain_on_are_dropped() {
        let clock = PauseClock::new([(100, Some(200)), (1_100, Some(1_200))]).before_plan(1_000);
        assert_eq!(clock.holds().len(), 1);
        let at_end = PauseClock::new([(1_000, None)]).before_plan(1_000);
        assert!(
            at_end.is_empty(),
            "a pause as the schedule ends holds nothing"
        );
    }

    proptest! {
        #[test]
        fn plan_and_wall_time_invert_and_skip_pauses(
            gaps in prop::collection::vec((0u64..5_000, 0u64..5_000), 0..8),
            open_after in prop::option::of(0u64..5_000),
            q in 0u64..60_000,
            r in 0u64..60_000,
        ) {
            let clock = clock_of(&gaps, open_after);
            let (lo, hi) = (q.min(r), q.max(r));
            // Plan time is monotone in wall time and never runs faster than it.
            prop_assert!(clock.plan_of(lo) <= clock.plan_of(hi));
            prop_assert!(clock.plan_of(hi) - clock.plan_of(lo) <= hi - lo);
            // Paused time and plan time add up to wall time.
            prop_assert_eq!(clock.plan_of(hi) + clock.paused_between(0, hi), hi);
            match (clock.wall_of(lo), clock.wall_of(hi)) {
                (Some(wl), Some(wh)) => {
                    if lo < hi {
                        prop_assert!(wl < wh, "wall time strictly increasing");
                    }
                    prop_assert!(wh >= hi);
                    // Inverse: the planned instant comes back.
                    prop_assert_eq!(clock.plan_of(wh), hi);
                    prop_assert_eq!(clock.plan_of(wl), lo);
                    // A planned instant is never inside a pause, except as one begins.
                    for h in clock.holds() {
                        let inside = h.at_us < wh && h.until_us.is_none_or(|u| wh < u);
                        prop_assert!(!inside, "{wh} inside {h:?}");
                    }
                }
                (Some(_), None) | (None, None) => {
                    // Held back by a running pause that began before it.
                    let open = clock.holds().last().filter(|h| h.until_us.is_none());
                    prop_assert!(open.is_some_and(|h| h.plan_us < hi));
                }
                (None, Some(_)) => prop_assert!(false, "an earlier instant held, a later not"),
            }
            // Wall time of the plan time reached: at or before now, and only a pause in between.
            if let Some(back) = clock.wall_of(clock.plan_of(hi)) {
                prop_assert!(back <= hi);
                prop_assert_eq!(clock.paused_between(back, hi), hi - back);
            }
        }
    }
}
