//! The latency model simulated agents draw their response times from (`--latency-model`):
//! `lognormal:MEDIAN,SIGMA` (the default, `lognormal:5ms,0.5`: most services' shape),
//! `constant:D` or `uniform:LOW..HIGH`. Only the histograms' shape depends on it, and so the
//! size of the deltas ZooKeeper carries.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::RngExt;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LatencyModel {
    /// `median` µs, and the standard deviation of the logarithm.
    LogNormal {
        median_us: f64,
        sigma: f64,
    },
    Constant {
        us: u64,
    },
    Uniform {
        low_us: u64,
        high_us: u64,
    },
}

impl Default for LatencyModel {
    fn default() -> Self {
        LatencyModel::LogNormal {
            median_us: 5_000.0,
            sigma: 0.5,
        }
    }
}

impl LatencyModel {
    /// One response time, µs (at least 1).
    pub fn sample(&self, rng: &mut SmallRng) -> u64 {
        let us = match *self {
            LatencyModel::LogNormal { median_us, sigma } => {
                // Box–Muller: one standard normal from two uniforms.
                let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                let u2: f64 = rng.random();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                median_us * (sigma * z).exp()
            }
            LatencyModel::Constant { us } => us as f64,
            LatencyModel::Uniform { low_us, high_us } => {
                low_us as f64 + rng.random::<f64>() * (high_us - low_us) as f64
            }
        };
        (us as u64).max(1)
    }
}

/// Why a `--latency-model` was not understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLatencyModel(pub String);

impl fmt::Display for BadLatencyModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}; expected lognormal:MEDIAN,SIGMA (e.g. lognormal:5ms,0.5), constant:D or uniform:LOW..HIGH",
            self.0
        )
    }
}

impl std::error::Error for BadLatencyModel {}

fn micros(text: &str) -> Result<u64, BadLatencyModel> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((text, ""), |i| text.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| BadLatencyModel(format!("`{text}` is not a duration")))?;
    let scale = match unit {
        "us" | "µs" => 1.0,
        "ms" => 1_000.0,
        "s" => 1_000_000.0,
        _ => {
            return Err(BadLatencyModel(format!(
                "`{text}`: unit must be us, ms or s"
            )))
        }
    };
    let us = value * scale;
    if !(us.is_finite() && us >= 1.0 && us <= Duration::from_secs(3600).as_micros() as f64) {
        return Err(BadLatencyModel(format!(
            "`{text}` is out of range (1µs..1h)"
        )));
    }
    Ok(us as u64)
}

impl FromStr for LatencyModel {
    type Err = BadLatencyModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, args) = s
            .split_once(':')
            .ok_or_else(|| BadLatencyModel(format!("`{s}` has no `kind:`")))?;
        match kind.trim() {
            "lognormal" => {
                let (median, sigma) = args
                    .split_once(',')
                    .ok_or_else(|| BadLatencyModel("lognormal needs MEDIAN,SIGMA".into()))?;
                let sigma: f64 = sigma
                    .trim()
                    .parse()
                    .map_err(|_| BadLatencyModel(format!("sigma `{sigma}` is not a number")))?;
                if !(0.0..=5.0).contains(&sigma) {
                    return Err(BadLatencyModel(format!("sigma {sigma} is outside 0..5")));
                }
                Ok(LatencyModel::LogNormal {
                    median_us: micros(median)? as f64,
                    sigma,
                })
            }
            "constant" => Ok(LatencyModel::Constant { us: micros(args)? }),
            "uniform" => {
                let (low, high) = args
                    .split_once("..")
                    .ok_or_else(|| BadLatencyModel("uniform needs LOW..HIGH".into()))?;
                let (low_us, high_us) = (micros(low)?, micros(high)?);
                if high_us < low_us {
                    return Err(BadLatencyModel(format!("`{s}`: HIGH is below LOW")));
                }
                Ok(LatencyModel::Uniform { low_us, high_us })
            }
            other => Err(BadLatencyModel(format!("unknown model `{other}`"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn models_parse_and_bad_ones_say_why() {
        assert_eq!(
            "lognormal:5ms,0.5".parse(),
            Ok(LatencyModel::LogNormal {
                median_us: 5000.0,
                sigma: 0.5
            })
        );
        assert_eq!(
            "constant:250us".parse(),
            Ok(LatencyModel::Constant { us: 250 })
        );
        assert_eq!(
            "uniform:1ms..2s".parse(),
            Ok(LatencyModel::Uniform {
                low_us: 1000,
                high_us: 2_000_000
            })
        );
        for bad in [
            "",
            "lognormal:5ms",
            "constant:5",
            "uniform:2ms..1ms",
            "gamma:1ms",
            "lognormal:5ms,9",
        ] {
            assert!(bad.parse::<LatencyModel>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_lognormal_sample_has_its_median() {
        let model: LatencyModel = "lognormal:5ms,0.5".parse().expect("model");
        let mut rng = SmallRng::seed_from_u64(1);
        let mut v: Vec<u64> = (0..10_001).map(|_| model.sample(&mut rng)).collect();
        v.sort_unstable();
        let median = v[5000] as f64;
        assert!((median - 5000.0).abs() < 250.0, "{median}");
    }
}
