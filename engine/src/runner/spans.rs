//! Where each phase sat in wall time once the run is over, and the pauses within it: a phase
//! runs from the wall instant of its plan start to that of its plan end (or the run's end, if
//! it stopped first), its pauses included; a pause belongs to the phase whose plan time it
//! began in. Pauses that began at or after the run's end (a pause asked for as the run
//! stopped) are left out; one not resumed by then has no end.

use super::pause_clock::PauseClock;
use super::timeline::Timeline;
use super::PhaseSpan;
use crate::result::summarize::Paused;
use crate::result::PauseWindow;
use std::time::Duration;

/// The phases' spans and the run's pauses, for a run that lasted `span_us` of wall time.
pub fn of(timeline: &Timeline, clock: &PauseClock, span_us: u64) -> (Vec<PhaseSpan>, Paused) {
    let mut spans = Vec::with_capacity(timeline.phases.len());
    let mut phase_us = Vec::with_capacity(timeline.phases.len());
    for p in &timeline.phases {
        let (start, end) = match clock.wall_of(p.start_us) {
            Some(start) if start < span_us => {
                let end = clock.wall_of(p.end_us()).unwrap_or(u64::MAX).min(span_us);
                (start, end.max(start))
            }
            // Never reached: the run ended first (or while paused before it).
            _ => (span_us, span_us),
        };
        spans.push(PhaseSpan {
            name: p.name.clone(),
            start: Duration::from_micros(start),
            ran: Duration::from_micros(end - start),
        });
        phase_us.push(clock.paused_between(start, end));
    }
    let windows = clock
        .holds()
        .iter()
        .filter(|h| h.at_us < span_us)
        .map(|h| PauseWindow {
            start_ms: h.at_us / 1000,
            end_ms: h.until_us.filter(|&u| u <= span_us).map(|u| u / 1000),
        })
        .collect();
    (spans, Paused { windows, phase_us })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::timeline::PhasePlan;
    use ptl_bytecode::plan::{Arrivals, Load, Overflow};

    fn timeline(phase_secs: &[u64]) -> Timeline {
        let mut start_us = 0;
        let mut phases = Vec::new();
        for (index, &s) in phase_secs.iter().enumerate() {
            let duration_us = s * 1_000_000;
            phases.push(PhasePlan {
                index,
                name: format!("p{index}"),
                start_us,
                duration_us,
                load: Load::Rate {
                    per_sec: 10.0,
                    duration_us,
                },
                arrivals: Arrivals::Uniform,
                max_inflight: 10,
                overflow: Overflow::Drop,
                seed: 0,
                target_rps: 10.0,
            });
            start_us += duration_us;
        }
        Timeline {
            phases,
            total_us: start_us,
        }
    }

    const S: u64 = 1_000_000;

    #[test]
    fn a_pause_lengthens_its_phase_and_moves_the_next() {
        let t = timeline(&[3, 2]);
        let clock = PauseClock::new([(S, Some(2 * S))]);
        let (spans, paused) = of(&t, &clock, 6 * S);
        assert_eq!(spans[0].start, Duration::ZERO);
        assert_eq!(spans[0].ran, Duration::from_secs(4));
        assert_eq!(spans[1].start, Duration::from_secs(4));
        assert_eq!(spans[1].ran, Duration::from_secs(2));
        assert_eq!(paused.phase_us, vec![S, 0]);
        assert_eq!(
            paused.windows,
            vec![PauseWindow {
                start_ms: 1000,
                end_ms: Some(2000)
            }]
        );
    }

    #[test]
    fn a_pause_at_a_boundary_belongs_to_the_next_phase() {
        let t = timeline(&[3, 2]);
        let clock = PauseClock::new([(3 * S, Some(4 * S))]);
        let (spans, paused) = of(&t, &clock, 6 * S);
        assert_eq!(spans[0].ran, Duration::from_secs(3));
        assert_eq!(spans[1].start, Duration::from_secs(3));
        assert_eq!(spans[1].ran, Duration::from_secs(3));
        assert_eq!(paused.phase_us, vec![0, S]);
    }

    #[test]
    fn stopped_while_paused_the_pause_has_no_end_and_later_phases_never_ran() {
        let t = timeline(&[3, 2]);
        let clock = PauseClock::new([(S, Some(2 * S)), (2_500_000, None)]);
        let (spans, paused) = of(&t, &clock, 4 * S);
        assert_eq!(spans[0].ran, Duration::from_secs(4));
        assert_eq!(spans[1].ran, Duration::ZERO);
        assert_eq!(paused.phase_us, vec![S + 1_500_000, 0]);
        assert_eq!(paused.windows.len(), 2);
        assert_eq!(paused.windows[1].end_ms, None);
        // A resume planned after the stop did not happen either.
        let late = PauseClock::new([(2 * S, Some(9 * S))]);
        let (_, paused) = of(&t, &late, 4 * S);
        assert_eq!(paused.windows[0].end_ms, None);
        assert_eq!(paused.phase_us, vec![2 * S, 0]);
    }
}
