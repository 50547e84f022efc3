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
//!
//! An agent's share of the rate can change mid-phase (a cluster agent taking over a lost
//! agent's share): [`Schedule::rescale`] re-bases the schedule at the change time, so from
//! then on Λ grows at the new fraction from the value it had reached. Arrival `k` stays due at
//! Λ = k + offset of that piecewise integral, which depends only on the changes, not on when
//! a copy of the schedule learns of them: every worker walking its copy agrees on how many
//! arrivals the phase has, so the count stays exact.

mod curve;

use crate::vm::AgentShare;
use curve::Curve;
use ptl_bytecode::plan::{Arrivals, Load};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Exp1};

/// The rate function from `from_us` on: Λ(t) = `curve.integral(t) + shift` there.
#[derive(Debug, Clone)]
struct Piece {
    curve: Curve,
    shift: f64,
    from_us: u64,
    /// Λ at `from_us`: arrivals with `a` at or above it follow this piece.
    from_a: f64,
}

impl Piece {
    fn integral(&self, t_us: u64) -> f64 {
        self.curve.integral(t_us) + self.shift
    }
}

#[derive(Debug, Clone)]
pub struct Schedule {
    load: Load,
    /// The original rate first, then one piece per [`Schedule::rescale`], in time order.
    pieces: Vec<Piece>,
    /// The piece of the latest arrival (arrivals' Λ never decreases).
    piece: usize,
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
    /// Λ of the next arrival, drawn but not handed out yet, and its time under the pieces
    /// known now (a rescale recomputes the time, never the draw).
    pending_a: Option<f64>,
    pending_t: Option<u64>,
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
            load: *load,
            pieces: vec![Piece {
                curve: Curve::from_load(load, rate_fraction),
                shift: 0.0,
                from_us: 0,
                from_a: 0.0,
            }],
            piece: 0,
            arrivals,
            closed,
            offset: offset.clamp(0.0, 1.0 - f64::EPSILON),
            next_k: 0,
            poisson_at: 0.0,
            rng: SmallRng::seed_from_u64(seed),
            cursor: 0,
            last_us: 0,
            done: false,
            pending_a: None,
            pending_t: None,
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
        let t = self.peek_arrival()?;
        self.advance();
        Some(t)
    }

    /// The next arrival's time without handing it out: the same until [`Schedule::advance`],
    /// unless a [`Schedule::rescale`] moves it.
    pub fn peek_arrival(&mut self) -> Option<u64> {
        if let Some(t) = self.pending_t {
            return Some(t);
        }
        if self.done {
            return None;
        }
        let a = match self.pending_a {
            Some(a) => a,
            None => {
                let a = match self.arrivals {
                    Arrivals::Uniform => self.next_k as f64 + self.offset,
                    Arrivals::Poisson => {
                        let gap: f64 = Exp1.sample(&mut self.rng);
                        self.poisson_at += gap;
                        self.poisson_at
                    }
                };
                self.pending_a = Some(a);
                a
            }
        };
        while self
            .pieces
            .get(self.piece + 1)
            .is_some_and(|next| a >= next.from_a)
        {
            self.piece += 1;
            let p = &self.pieces[self.piece];
            self.cursor = p.curve.cursor_at(p.from_us);
        }
        let p = &self.pieces[self.piece];
        let t = p
            .curve
            .inverse(a - p.shift, &mut self.cursor)
            .map(|t| (t.round() as u64).max(p.from_us).max(self.last_us))
            .filter(|&t| t < self.duration_us());
        match t {
            Some(t) => self.pending_t = Some(t),
            None => self.done = true,
        }
        t
    }

    /// Hands out the arrival [`Schedule::peek_arrival`] returned (nothing if there is none).
    pub fn advance(&mut self) {
        if let Some(t) = self.peek_arrival() {
            self.next_k += 1;
            self.last_us = t;
            self.pending_a = None;
            self.pending_t = None;
        }
    }

    /// From `at_us` into the phase on, this schedule sends `rate_fraction` of the phase's
    /// rate. Changes apply in the order given; one before an earlier change's time is taken
    /// as at that time. Arrivals already handed out keep their times; the next one is
    /// recomputed, and may fall due at once if `at_us` is already past.
    pub fn rescale(&mut self, at_us: u64, rate_fraction: f64) {
        if self.closed {
            return;
        }
        let Some(last) = self.pieces.last() else {
            return;
        };
        let at_us = at_us.clamp(last.from_us, self.duration_us());
        let from_a = last.integral(at_us);
        let curve = Curve::from_load(&self.load, rate_fraction);
        let shift = from_a - curve.integral(at_us);
        self.pieces.push(Piece {
            curve,
            shift,
            from_us: at_us,
            from_a,
        });
        self.pending_t = None;
        self.done = false;
    }

    /// Arrivals handed out so far.
    pub fn emitted(&self) -> u64 {
        self.next_k
    }

    /// The piece in force at `t_us` (the latest change at or before it).
    fn piece_at(&self, t_us: u64) -> &Piece {
        let i = self.pieces.partition_point(|p| p.from_us <= t_us);
        &self.pieces[i.saturating_sub(1)]
    }

    /// The planned rate (per second, this agent's share) at `t_us` into the phase.
    pub fn target_rate_at(&self, t_us: u64) -> f64 {
        self.piece_at(t_us).curve.rate_at(t_us)
    }

    /// Planned arrivals in `[0, until_us)`: the integral of the rate.
    pub fn expected_arrivals(&self, until_us: u64) -> f64 {
        self.piece_at(until_us).integral(until_us)
    }

    /// Mean planned rate over the phase (0 for `pause`, `users` and empty phases).
    pub fn mean_rate(&self) -> f64 {
        let secs = self.duration_us() as f64 / 1_000_000.0;
        if secs > 0.0 {
            self.expected_arrivals(self.duration_us()) / secs
        } else {
            0.0
        }
    }

    pub fn duration_us(&self) -> u64 {
        self.pieces[0].curve.duration_us()
    }
}

#[cfg(test)]
mod tests;
