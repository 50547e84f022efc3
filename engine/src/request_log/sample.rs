//! Which requests the log keeps: all of them, `1/N`, or a fraction, drawn independently per
//! request (a fixed stride could line up with a plan's own periodic mix).

use std::str::FromStr;

/// The share of requests the log keeps, in (0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    fraction: f64,
    /// A request is kept when a uniform 64-bit draw is at most this.
    below: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid sample `{0}`: expected 1/N (N ≥ 1), a fraction in (0, 1] such as 0.1, or a percentage such as 10%")]
pub struct SampleError(pub String);

impl Sample {
    pub const ALL: Sample = Sample {
        fraction: 1.0,
        below: u64::MAX,
    };

    pub fn fraction(self) -> f64 {
        self.fraction
    }

    fn of(fraction: f64) -> Option<Sample> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return None;
        }
        let below = if fraction >= 1.0 {
            u64::MAX
        } else {
            // Exact enough: 2^-64 per draw.
            (fraction * u64::MAX as f64) as u64
        };
        Some(Sample { fraction, below })
    }

    /// Draws for one request from `state` (advanced).
    pub(crate) fn keeps(self, state: &mut u64) -> bool {
        self.below == u64::MAX || splitmix64(state) <= self.below
    }
}

impl Default for Sample {
    fn default() -> Self {
        Sample::ALL
    }
}

impl FromStr for Sample {
    type Err = SampleError;

    fn from_str(s: &str) -> Result<Sample, SampleError> {
        let bad = || SampleError(s.to_string());
        let t = s.trim();
        let fraction = if let Some(n) = t.strip_prefix("1/") {
            let n: u64 = n.trim().parse().map_err(|_| bad())?;
            if n == 0 {
                return Err(bad());
            }
            1.0 / n as f64
        } else if let Some(p) = t.strip_suffix('%') {
            p.trim().parse::<f64>().map_err(|_| bad())? / 100.0
        } else {
            t.parse::<f64>().map_err(|_| bad())?
        };
        Sample::of(fraction).ok_or_else(bad)
    }
}

/// A worker's first draw state: distinct per worker, different per run.
pub(crate) fn seed(worker: usize) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
