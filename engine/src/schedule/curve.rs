//! A phase's target rate as a piecewise-linear function of time, with its integral (expected
//! arrivals) and the inverse of that integral (when the n-th arrival is due), both in closed
//! form per segment.

use ptl_bytecode::plan::Load;

const US_PER_S: f64 = 1_000_000.0;

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    start_us: u64,
    end_us: u64,
    /// Rate (per second) at the start and at the end; linear in between.
    from: f64,
    to: f64,
    /// Expected arrivals before this segment.
    before: f64,
    /// Expected arrivals within it.
    total: f64,
}

impl Segment {
    fn new(start_us: u64, end_us: u64, from: f64, to: f64, before: f64) -> Segment {
        let secs = (end_us - start_us) as f64 / US_PER_S;
        Segment {
            start_us,
            end_us,
            from,
            to,
            before,
            total: (from + to) / 2.0 * secs,
        }
    }

    fn secs(&self) -> f64 {
        (self.end_us - self.start_us) as f64 / US_PER_S
    }

    fn rate_at(&self, t_us: u64) -> f64 {
        let len = (self.end_us - self.start_us) as f64;
        if len == 0.0 {
            return self.from;
        }
        self.from + (self.to - self.from) * (t_us - self.start_us) as f64 / len
    }

    /// Expected arrivals from the segment start to `t_us` (within the segment).
    fn integral(&self, t_us: u64) -> f64 {
        let tau = (t_us.min(self.end_us) - self.start_us) as f64 / US_PER_S;
        let secs = self.secs();
        if secs == 0.0 {
            return 0.0;
        }
        self.from * tau + (self.to - self.from) * tau * tau / (2.0 * secs)
    }

    /// Seconds into the segment at which `a` arrivals (0 ≤ a ≤ total) are expected.
    ///
    /// Solves `from·τ + h·τ² = a` with `h = (to − from) / 2L`, using the cancellation-free
    /// root `τ = 2a / (from + √(from² + 4ha))`, which also covers h = 0 and from = 0.
    fn inverse(&self, a: f64) -> f64 {
        let h = (self.to - self.from) / (2.0 * self.secs());
        let disc = (self.from * self.from + 4.0 * h * a).max(0.0);
        let denom = self.from + disc.sqrt();
        let tau = if denom > 0.0 { 2.0 * a / denom } else { 0.0 };
        tau.clamp(0.0, self.secs())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Curve {
    segments: Vec<Segment>,
    duration_us: u64,
    total: f64,
}

impl Curve {
    /// The rate function of an open phase, scaled by `fraction`. Closed (`users`) and `pause`
    /// phases have no segments: a zero rate throughout. Negative or non-finite rates count
    /// as zero.
    pub fn from_load(load: &Load, fraction: f64) -> Curve {
        let duration_us = load.duration_us();
        let scale = |r: f64| {
            let r = r * fraction;
            if r.is_finite() && r > 0.0 {
                r
            } else {
                0.0
            }
        };
        let mut segments = Vec::new();
        match *load {
            Load::Rate { per_sec, .. } => {
                segments.push(Segment::new(
                    0,
                    duration_us,
                    scale(per_sec),
                    scale(per_sec),
                    0.0,
                ));
            }
            Load::Ramp { from, to, .. } => {
                segments.push(Segment::new(0, duration_us, scale(from), scale(to), 0.0));
            }
            Load::Steps {
                from, by, every_us, ..
            } => {
                let levels = duration_us.checked_div(every_us).unwrap_or(0);
                let mut before = 0.0;
                for k in 0..levels {
                    let rate = if by > 0.0 {
                        scale(from + k as f64 * by)
                    } else {
                        scale(from)
                    };
                    let s = Segment::new(k * every_us, (k + 1) * every_us, rate, rate, before);
                    before += s.total;
                    segments.push(s);
                }
            }
            Load::Pause { .. } | Load::Users { .. } => {}
        }
        segments.retain(|s| s.end_us > s.start_us);
        let total = segments.last().map_or(0.0, |s| s.before + s.total);
        Curve {
            segments,
            duration_us,
            total,
        }
    }

    pub fn duration_us(&self) -> u64 {
        self.duration_us
    }

    fn segment_at(&self, t_us: u64) -> Option<&Segment> {
        let i = self.segments.partition_point(|s| s.end_us <= t_us);
        self.segments.get(i).filter(|s| s.start_us <= t_us)
    }

    pub fn rate_at(&self, t_us: u64) -> f64 {
        self.segment_at(t_us).map_or(0.0, |s| s.rate_at(t_us))
    }

    /// Expected arrivals in `[0, t_us)`.
    pub fn integral(&self, t_us: u64) -> f64 {
        if t_us >= self.duration_us {
            return self.total;
        }
        self.segment_at(t_us)
            .map_or(0.0, |s| s.before + s.integral(t_us))
    }

    /// The [`Curve::inverse`] cursor for arrivals from `t_us` on.
    pub fn cursor_at(&self, t_us: u64) -> usize {
        self.segments.partition_point(|s| s.end_us <= t_us)
    }

    /// The time (µs, fractional) at which the integral reaches `a`, or `None` if it never
    /// does within the phase. `cursor` remembers the segment of the previous call: with
    /// non-decreasing `a`, a call costs O(1) amortised.
    pub fn inverse(&self, a: f64, cursor: &mut usize) -> Option<f64> {
        if a.is_nan() || a >= self.total {
            return None;
        }
        while let Some(s) = self.segments.get(*cursor) {
            if a < s.before + s.total {
                break;
            }
            *cursor += 1;
        }
        let s = self.segments.get(*cursor)?;
        let local = (a - s.before).max(0.0);
        Some(s.start_us as f64 + s.inverse(local) * US_PER_S)
    }
}
