//! Agents measured unable to carry their share: saturated (`ptl_engine::result::generator`:
//! schedule lag or CPU) for [`SUSTAINED`] windows in a row. What they fell short of — arrivals
//! their schedule asked for in a window and did not start in it — is the run's measured
//! shortfall, beside the declared one (capacities below the plan's peak): the coordinator adds
//! it to `ptl_cluster_capacity_shortfall`, asks the scale hook for the agents that would carry
//! it, and gives idle registered agents a share as it does for a declared shortfall.

use ptl_engine::record::Recorded;
use ptl_engine::result::generator::{Second, SATURATED};

/// Saturated windows in a row before an agent counts as strained: one slow second (a GC pause
/// of the target's, a page fault) is not a fleet too small.
pub const SUSTAINED: u32 = 3;

/// One agent's recent load, window by window.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Strain {
    /// Saturated windows in a row, up to its latest.
    run: u32,
    /// Of its latest window: arrivals planned but not started in it, and those started.
    short: u64,
    carried: u64,
}

impl Strain {
    /// Takes in its next window.
    pub fn add(&mut self, second: &Second, window: &Recorded) {
        self.run = if second.saturation() >= SATURATED {
            self.run.saturating_add(1)
        } else {
            0
        };
        let planned: u64 = window.phase.iter().map(|p| p.planned).sum();
        let started: u64 = window.phase.iter().map(|p| p.started).sum();
        self.short = planned.saturating_sub(started);
        self.carried = started;
    }

    pub fn strained(&self) -> bool {
        self.run >= SUSTAINED && self.short > 0
    }

    /// Forgets its history: it was just given another share.
    pub fn reset(&mut self) {
        *self = Strain::default();
    }
}

/// The run's strained agents together.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    pub agents: usize,
    /// Arrivals per second they fell short of.
    pub short_rps: f64,
    /// Arrivals per second they did start.
    pub carried_rps: f64,
}

impl Measured {
    pub fn of<'a>(strains: impl IntoIterator<Item = &'a Strain>) -> Measured {
        let mut m = Measured::default();
        for s in strains.into_iter().filter(|s| s.strained()) {
            m.agents += 1;
            m.short_rps += s.short as f64;
            m.carried_rps += s.carried as f64;
        }
        m
    }

    /// Agents more that would carry what the strained ones fell short of, each as much as a
    /// strained one carries now (at least one while any is strained).
    pub fn more_agents(&self) -> usize {
        if self.agents == 0 {
            return 0;
        }
        let each = self.carried_rps / self.agents as f64;
        if each <= 0.0 {
            return self.agents;
        }
        ((self.short_rps / each - 1e-9).ceil() as usize).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(planned: u64, started: u64) -> Recorded {
        let mut w = Recorded::new(1, 1, 1);
        w.phase[0].planned = planned;
        w.phase[0].started = started;
        w
    }

    fn second(lag_ms: f64) -> Second {
        Second {
            lag_p90_ms: Some(lag_ms),
            ..Second::default()
        }
    }

    #[test]
    fn only_sustained_saturation_with_a_shortfall_counts() {
        let mut s = Strain::default();
        for _ in 0..SUSTAINED - 1 {
            s.add(&second(100.0), &window(1000, 600));
        }
        assert!(!s.strained(), "not yet sustained");
        s.add(&second(100.0), &window(1000, 600));
        assert!(s.strained());
        // A calm window ends the run of saturated ones.
        s.add(&second(1.0), &window(1000, 1000));
        assert!(!s.strained());
        // Saturated but keeping up (late, yet every arrival started): nothing to add.
        let mut late = Strain::default();
        for _ in 0..SUSTAINED {
            late.add(&second(100.0), &window(1000, 1000));
        }
        assert!(!late.strained());
    }

    #[test]
    fn more_agents_carry_the_shortfall_at_what_strained_ones_carry() {
        let mut a = Strain::default();
        let mut b = Strain::default();
        let calm = Strain::default();
        for _ in 0..SUSTAINED {
            a.add(&second(50.0), &window(1000, 600));
            b.add(&second(50.0), &window(1000, 400));
        }
        let m = Measured::of([&a, &b, &calm]);
        assert_eq!(
            m,
            Measured {
                agents: 2,
                short_rps: 1000.0,
                carried_rps: 1000.0
            }
        );
        // 1000/s short at 500/s each.
        assert_eq!(m.more_agents(), 2);
        assert_eq!(Measured::of([&calm]).more_agents(), 0);
        let mut tiny = Strain::default();
        for _ in 0..SUSTAINED {
            tiny.add(&second(50.0), &window(1000, 999));
        }
        assert_eq!(Measured::of([&tiny]).more_agents(), 1);
        let mut stuck = Strain::default();
        for _ in 0..SUSTAINED {
            stuck.add(&second(50.0), &window(1000, 0));
        }
        assert_eq!(Measured::of([&stuck]).more_agents(), 1);
    }
}
