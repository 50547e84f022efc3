//! The run's fixed timeline: when each phase starts and ends (offsets from the run start), and
//! the limits each phase runs under once plan-wide defaults and phase overrides are resolved.

use crate::schedule::Schedule;
use crate::vm::AgentShare;
use ptl_bytecode::plan::{Arrivals, Load, Overflow, Plan};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct PhasePlan {
    pub index: usize,
    pub name: String,
    /// Offset of the phase start from the run start, µs.
    pub start_us: u64,
    pub duration_us: u64,
    pub load: Load,
    pub arrivals: Arrivals,
    /// Agent-wide cap on arrivals in flight.
    pub max_inflight: u32,
    pub overflow: Overflow,
    /// Seed of the phase's arrival schedule (the agent index is mixed in by the schedule).
    pub seed: u64,
    /// Mean planned arrival rate of this agent over the phase (0 for pause and users).
    pub target_rps: f64,
}

impl PhasePlan {
    pub fn end_us(&self) -> u64 {
        self.start_us.saturating_add(self.duration_us)
    }

    pub fn is_open(&self) -> bool {
        matches!(
            self.load,
            Load::Rate { .. } | Load::Ramp { .. } | Load::Steps { .. }
        )
    }

    /// Arrivals this agent's schedule plans in the phase's first `ran_us` of running time
    /// (0 for `pause` and `users` phases): what a run that got that far should have sent.
    pub fn planned_arrivals(&self, share: &AgentShare, ran_us: u64) -> f64 {
        if !self.is_open() {
            return 0.0;
        }
        self.schedule(share)
            .expected_arrivals(ran_us.min(self.duration_us))
    }

    /// This agent's schedule of the phase.
    pub fn schedule(&self, share: &AgentShare) -> Schedule {
        Schedule::for_agent(&self.load, self.arrivals, share, self.seed)
    }
}

#[derive(Debug, Clone)]
pub struct Timeline {
    pub phases: Vec<PhasePlan>,
    pub total_us: u64,
}

/// A seed per phase, so phases do not replay each other's Poisson gaps.
fn phase_seed(seed: u64, phase: usize) -> u64 {
    let mut z = seed ^ (phase as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Timeline {
    pub fn of(plan: &Plan, share: &AgentShare) -> Timeline {
        let mut at = 0u64;
        let mut phases = Vec::with_capacity(plan.phases.len());
        for (index, p) in plan.phases.iter().enumerate() {
            let duration_us = p.load.duration_us();
            let mut phase = PhasePlan {
                index,
                name: p.name.clone(),
                start_us: at,
                duration_us,
                load: p.load,
                arrivals: p.arrivals,
                max_inflight: p.max_inflight.unwrap_or(plan.max_inflight).max(1),
                overflow: p.overflow.unwrap_or(plan.overflow),
                seed: phase_seed(plan.seed, index),
                target_rps: 0.0,
            };
            if phase.is_open() {
                phase.target_rps = phase.schedule(share).mean_rate();
            }
            phases.push(phase);
            at = at.saturating_add(duration_us);
        }
        Timeline {
            phases,
            total_us: at,
        }
    }

    /// The phase running `t_us` into the run (`None` past the end).
    pub fn phase_at(&self, t_us: u64) -> Option<&PhasePlan> {
        self.phases
            .iter()
            .find(|p| p.start_us <= t_us && t_us < p.end_us())
    }
}

/// Plans may ask for absurd lengths (a phase of u64::MAX µs); instants never go further than
/// this past their base, so time arithmetic cannot overflow.
const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// `base + us` µs, saturating far in the future instead of overflowing.
pub fn after_us(base: Instant, us: u64) -> Instant {
    after(base, Duration::from_micros(us))
}

/// `base + d`, saturating far in the future instead of overflowing.
pub fn after(base: Instant, d: Duration) -> Instant {
    base.checked_add(d.min(FAR)).unwrap_or(base)
}

/// Part `i` of `total` split as evenly as possible into `parts`.
pub fn split(total: u64, parts: usize, i: usize) -> u64 {
    let parts = parts.max(1) as u64;
    let i = i as u64;
    total / parts + u64::from(i < total % parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn splits_add_up_and_differ_by_at_most_one(total in 0u64..1_000_000, parts in 1usize..64) {
            let shares: Vec<u64> = (0..parts).map(|i| split(total, parts, i)).collect();
            prop_assert_eq!(shares.iter().sum::<u64>(), total);
            let (lo, hi) = (shares.iter().min().copied().unwrap_or(0), shares.iter().max().copied().unwrap_or(0));
            prop_assert!(hi - lo <= 1);
        }
    }
}
