//! Open-loop arrival schedules: when each request (or scenario iteration) of a phase is due,
//! fixed in advance by the phase's rate function and never by how fast the target answers.
//!
//! Arrivals are placed by inverting the integral Λ(t) of the rate. Uniform: arrival k
//! (k = 0, 1, …) is due when Λ reaches k + offset, so a phase sends round(Λ(T)) ± 1 arrivals and
//! the schedule never drifts (each time is computed from k, not by adding gaps). Poisson:
//! Λ advances by unit-rate exponential increments, which makes arrivals a non-homogeneous
//! Poisson process with the same rate function. Constant, ramp and step segments are
//! inverted in closed form; each arrival costs O(1).
//!
//! `users` (closed-model) phases are not schedules: their [`Schedule`] yields no arrivals
//! and [`Schedule::is_closed`] is true, so the engine runs its virtual-user loop instead.

mod curve;

use crate::vm::AgentShare;
use curve::Curve;
use ptl_bytecode::plan::{Arrivals, Load};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};

#[derive(Debug, Clone)]
pub struct Schedule {
    curve: Curve,
    arrivals: Arrivals,
    closed: bool,
    /// Uniform arrivals are due at Λ = k + offset, offset in [0, 1).
    offset: f64,
    /// Arrivals handed out so far.
    next_k: u64,
    /// Λ of the last Poisson arrival.
    poisson_at: f64,
    rng: SmallRng,
    cursor: usize,
    last_us: u64,
    done: bool,
}

impl Schedule {
    /// A schedule for one agent sending `rate_fraction` of the phase's rate. `seed` drives
    /// Poisson gaps: use a different one per phase and per agent.
    pub fn new(load: &Load, arrivals: Arrivals, rate_fraction: f64, seed: u64) -> Schedule {
        Schedule::with_offset(load, arrivals, rate_fraction, 0.5, seed)
    }

    /// The schedule of agent `share.index` of `share.count`. With equal shares the agents'
    /// uniform arrivals interleave (agent i is due at Λ = k + (i + ½)/n of its own curve), so
    /// together they send exactly what a single agent would; Poisson streams get a seed
    /// derived from `seed` and the agent index.
    pub fn for_agent(load: &Load, arrivals: Arrivals, share: &AgentShare, seed: u64) -> Schedule {
        let n = share.count.max(1) as f64;
        let offset = (share.index as f64 + 0.5) / n;
        let seed = seed ^ (share.index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Schedule::with_offset(load, arrivals, share.rate_fraction, offset, seed)
    }

    fn with_offset(
        load: &Load,
        arrivals: Arrivals,
        rate_fraction: f64,
        offset: f64,
        seed: u64,
    ) -> Schedule {
        let closed = matches!(load, Load::Users { .. });
        Schedule {
            curve: Curve::from_load(load, rate_fraction),
            arrivals,
            closed,
            offset: offset.clamp(0.0, 1.0 - f64::EPSILON),
            next_k: 0,
            poisson_at: 0.0,
            rng: SmallRng::seed_from_u64(seed),
            cursor: 0,
            last_us: 0,
            done: false,
        }
    }

    /// True for a closed-model (`users`) phase, which has no arrivals to schedule.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The intended time of the next arrival, in µs from the phase start: non-decreasing,
    /// below [`Schedule::duration_us`]; `None` once the phase has no more.
    #[allow(clippy::should_implement_trait)]
    pub fn next_arrival(&mut self) -> Option<u64> {
        if self.done {
            return None;
        }
        let a = match self.arrivals {
            Arrivals::Uniform => self.next_k as f64 + self.offset,
            Arrivals::Poisson => {
                let gap: f64 = Exp1.sample(&mut self.rng);
                self.poisson_at += gap;
                self.poisson_at
            }
        };
        let t = self
            .curve
            .inverse(a, &mut self.cursor)
            .map(|t| (t.round() as u64).max(self.last_us))
            .filter(|&t| t < self.curve.duration_us());
        match t {
            Some(t) => {
                self.next_k += 1;
                self.last_us = t;
                Some(t)
            }
            None => {
                self.done = true;
                None
            }
        }
    }

    /// Arrivals handed out so far.
    pub fn emitted(&self) -> u64 {
        self.next_k
    }

    /// The planned rate (per second, this agent's share) at `t_us` into the phase.
    pub fn target_rate_at(&self, t_us: u64) -> f64 {
        self.curve.rate_at(t_us)
    }

    /// Planned arrivals in `[0, until_us)`: the integral of the rate.
    pub fn expected_arrivals(&self, until_us: u64) -> f64 {
        self.curve.integral(until_us)
    }

    /// Mean planned rate over the phase (0 for `pause`, `users` and empty phases).
    pub fn mean_rate(&self) -> f64 {
        let secs = self.curve.duration_us() as f64 / 1_000_000.0;
        if secs > 0.0 {
            self.curve.total() / secs
        } else {
            0.0
        }
    }

    pub fn duration_us(&self) -> u64 {
        self.curve.duration_us()
    }
}

#[cfg(test)]
mod tests;
