//! `ptl compare`: does one log's traffic look like another's? Each dimension is a
//! two-sample test — Kolmogorov–Smirnov for the continuous ones (inter-arrival times,
//! per-second counts, the rate's shape over time, request and response sizes), chi-square for
//! the categorical ones (endpoint mix, status mix) — with a verdict at `alpha` and the
//! largest differences in plain numbers. Rates are compared by shape, scaled to the same mean,
//! so a test at twice production's rate can still match it; the mean rates are shown beside.

use super::formats::{Seen, Traffic};
use super::patterns::endpoint;
use super::stats::{chi_square, ks, ChiSquare, Ks};
use serde::Serialize;
use std::collections::BTreeMap;

/// The outcome of one dimension's test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// No evidence at `alpha` that the two differ.
    Alike,
    Differs,
    /// Not tested: one side has no data for it.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "test", rename_all = "snake_case")]
pub enum Test {
    Ks(Ks),
    ChiSquare(ChiSquare),
    None { reason: String },
}

impl Test {
    pub fn p_value(&self) -> Option<f64> {
        match self {
            Test::Ks(k) => Some(k.p_value),
            Test::ChiSquare(c) => Some(c.p_value),
            Test::None { .. } => None,
        }
    }
}

/// One of the largest differences of a dimension: a category's share or a quantile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Difference {
    /// `GET /search`, `status 503`, or `p90`.
    pub what: String,
    pub baseline: f64,
    pub test: f64,
    /// `share` (0–1), or the unit of a quantile (`× mean`, `bytes`).
    pub unit: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dimension {
    /// `inter_arrival`, `rate_per_second`, `rate_over_time`, `endpoints`, `request_bytes`,
    /// `response_bytes`, `status`.
    pub name: &'static str,
    #[serde(flatten)]
    pub test: Test,
    pub verdict: Verdict,
    /// Largest first.
    pub differences: Vec<Difference>,
}

/// One side's overview.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    pub format: &'static str,
    pub requests: usize,
    pub duration_s: f64,
    pub mean_rps: f64,
    pub unreadable_lines: usize,
    /// A ptl log's dropped lines (its writer fell behind).
    pub dropped_lines: Option<u64>,
}

impl Side {
    fn of(t: &Traffic) -> Side {
        let duration_s = t.duration_s();
        Side {
            format: t.format.as_str(),
            requests: t.requests.len(),
            duration_s,
            mean_rps: if duration_s > 0.0 {
                t.requests.len() as f64 / duration_s
            } else {
                0.0
            },
            unreadable_lines: t.unreadable,
            dropped_lines: t.dropped,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub alpha: f64,
    pub baseline: Side,
    pub test: Side,
    pub dimensions: Vec<Dimension>,
}

impl Comparison {
    /// Whether any dimension differs beyond `alpha` (`ptl compare` exits 1).
    pub fn differs(&self) -> bool {
        self.dimensions
            .iter()
            .any(|d| d.verdict == Verdict::Differs)
    }

    pub fn dimension(&self, name: &str) -> Option<&Dimension> {
        self.dimensions.iter().find(|d| d.name == name)
    }
}

/// Compares `test` against `baseline` on every dimension both have data for.
pub fn compare(baseline: &Traffic, test: &Traffic, alpha: f64) -> Comparison {
    // Both sides' times at the coarser granularity: a 1 s access log cannot be compared with
    // a µs one below a second.
    let resolution = baseline.resolution_us.max(test.resolution_us);
    let inter_arrival = if resolution >= 1_000_000 {
        // Gaps rounded to whole seconds, scaled by their mean, land on different lattices for
        // two rates: the test would see the rounding, not the traffic.
        skipped(
            "inter_arrival",
            "timestamps of 1 s resolution; rate_per_second shows the burstiness",
        )
    } else {
        continuous(
            "inter_arrival",
            &gaps(baseline, resolution),
            &gaps(test, resolution),
            "× mean",
            alpha,
        )
    };
    let ks_of = |name, unit, of: &dyn Fn(&Traffic) -> Vec<f64>| {
        continuous(name, &of(baseline), &of(test), unit, alpha)
    };
    let chi_of = |name, key: &dyn Fn(&Seen) -> String| {
        categorical(name, &counts(baseline, key), &counts(test, key), alpha)
    };
    let dims = vec![
        inter_arrival,
        ks_of("rate_per_second", "× mean", &|t| per_second(t, resolution)),
        ks_of("rate_over_time", "of the run", &|t| {
            over_time(t, resolution)
        }),
        chi_of("endpoints", &|r| endpoint(&r.method, &r.path)),
        ks_of("request_bytes", "bytes", &|t| sizes(t, |r| r.request_bytes)),
        ks_of("response_bytes", "bytes", &|t| {
            sizes(t, |r| r.response_bytes)
        }),
        chi_of("status", &|r| {
            r.status
                .map_or("no answer".into(), |s| format!("status {s}"))
        }),
    ];
    Comparison {
        alpha,
        baseline: Side::of(baseline),
        test: Side::of(test),
        dimensions: dims,
    }
}

fn coarse(at_us: i64, resolution: i64) -> i64 {
    at_us.div_euclid(resolution) * resolution
}

/// Gaps between consecutive arrivals, over their mean.
fn gaps(t: &Traffic, resolution: i64) -> Vec<f64> {
    let times: Vec<i64> = t
        .requests
        .iter()
        .map(|r| coarse(r.at_us, resolution))
        .collect();
    let g: Vec<f64> = times.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
    scaled_to_mean(g)
}

/// Arrivals per second (or per granule, when coarser), over their mean.
fn per_second(t: &Traffic, resolution: i64) -> Vec<f64> {
    let bucket = resolution.max(1_000_000);
    let Some(first) = t.requests.first() else {
        return Vec::new();
    };
    let start = coarse(first.at_us, bucket);
    let mut counts: Vec<f64> = Vec::new();
    for r in &t.requests {
        let i = ((r.at_us - start) / bucket) as usize;
        if counts.len() <= i {
            counts.resize(i + 1, 0.0);
        }
        counts[i] += 1.0;
    }
    scaled_to_mean(counts)
}

/// Each arrival's place in the run, 0 to 1: the cumulative shape of the rate curve.
fn over_time(t: &Traffic, resolution: i64) -> Vec<f64> {
    let (Some(first), Some(last)) = (t.requests.first(), t.requests.last()) else {
        return Vec::new();
    };
    let start = coarse(first.at_us, resolution);
    let span = (coarse(last.at_us, resolution) - start + resolution) as f64;
    t.requests
        .iter()
        .map(|r| (coarse(r.at_us, resolution) - start) as f64 / span)
        .collect()
}

fn sizes(t: &Traffic, of: impl Fn(&Seen) -> Option<u64>) -> Vec<f64> {
    t.requests
        .iter()
        .filter_map(&of)
        .map(|b| b as f64)
        .collect()
}

fn scaled_to_mean(mut v: Vec<f64>) -> Vec<f64> {
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    if mean > 0.0 {
        v.iter_mut().for_each(|x| *x /= mean);
    }
    v
}

fn counts(t: &Traffic, key: &dyn Fn(&Seen) -> String) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for r in &t.requests {
        *m.entry(key(r)).or_insert(0) += 1;
    }
    m
}

fn verdict(p: f64, alpha: f64) -> Verdict {
    if p < alpha {
        Verdict::Differs
    } else {
        Verdict::Alike
    }
}

fn skipped(name: &'static str, reason: &str) -> Dimension {
    Dimension {
        name,
        test: Test::None {
            reason: reason.to_string(),
        },
        verdict: Verdict::Skipped,
        differences: Vec::new(),
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn continuous(
    name: &'static str,
    a: &[f64],
    b: &[f64],
    unit: &'static str,
    alpha: f64,
) -> Dimension {
    let Some(k) = ks(a, b) else {
        let side = if a.is_empty() { "baseline" } else { "test" };
        return skipped(name, &format!("the {side} log has no data for it"));
    };
    let sorted = |s: &[f64]| {
        let mut v = s.to_vec();
        v.sort_by(f64::total_cmp);
        v
    };
    let (sa, sb) = (sorted(a), sorted(b));
    let mut differences: Vec<Difference> =
        [("p10", 0.1), ("p50", 0.5), ("p90", 0.9), ("p99", 0.99)]
            .iter()
            .map(|&(what, q)| Difference {
                what: what.to_string(),
                baseline: quantile(&sa, q),
                test: quantile(&sb, q),
                unit,
            })
            .collect();
    differences.sort_by(|x, y| relative(y).total_cmp(&relative(x)));
    Dimension {
        name,
        test: Test::Ks(k),
        verdict: verdict(k.p_value, alpha),
        differences,
    }
}

fn relative(d: &Difference) -> f64 {
    let scale = d.baseline.abs().max(d.test.abs());
    if scale == 0.0 {
        0.0
    } else {
        (d.baseline - d.test).abs() / scale
    }
}

/// Categories rarer than this (expected count on the smaller side) are pooled as `(other)`,
/// as a chi-square approximation needs.
const MIN_EXPECTED: f64 = 5.0;

fn categorical(
    name: &'static str,
    a: &BTreeMap<String, u64>,
    b: &BTreeMap<String, u64>,
    alpha: f64,
) -> Dimension {
    let (na, nb): (u64, u64) = (a.values().sum(), b.values().sum());
    if na == 0 || nb == 0 {
        return skipped(name, "a log has no requests");
    }
    let smaller = na.min(nb) as f64 / (na + nb) as f64;
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    let count = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let (mut ca, mut cb, mut other) = (Vec::new(), Vec::new(), (0u64, 0u64));
    for k in &keys {
        let (x, y) = (count(a, k), count(b, k));
        if (x + y) as f64 * smaller >= MIN_EXPECTED {
            ca.push(x);
            cb.push(y);
        } else {
            other.0 += x;
            other.1 += y;
        }
    }
    if other != (0, 0) {
        ca.push(other.0);
        cb.push(other.1);
    }
    let share = |c: u64, n: u64| c as f64 / n as f64;
    let mut differences: Vec<Difference> = keys
        .iter()
        .map(|k| Difference {
            what: (*k).clone(),
            baseline: share(count(a, k), na),
            test: share(count(b, k), nb),
            unit: "share",
        })
        .filter(|d| d.baseline != d.test)
        .collect();
    differences.sort_by(|x, y| {
        (y.baseline - y.test)
            .abs()
            .total_cmp(&(x.baseline - x.test).abs())
    });
    differences.truncate(5);
    match chi_square(&ca, &cb) {
        Some(c) => Dimension {
            name,
            test: Test::ChiSquare(c),
            verdict: verdict(c.p_value, alpha),
            differences,
        },
        None => {
            // One category on both sides (or all pooled into one): nothing to tell apart.
            let same = keys.len() == 1;
            Dimension {
                name,
                test: Test::None {
                    reason: if same {
                        "one category on both sides".into()
                    } else {
                        "too few requests per category".into()
                    },
                },
                verdict: if same {
                    Verdict::Alike
                } else {
                    Verdict::Skipped
                },
                differences,
            }
        }
    }
}

#[cfg(test)]
mod tests;
