//! The latency-vs-rate model: `p99(λ) = base + scale / (capacity − λ)`, the shape of a
//! queue's response time (M/M/1 gives it exactly for the mean and every percentile), fitted
//! by least squares to the steps below the break.
//!
//! For a fixed capacity the model is linear in `base` and `scale`, so each candidate capacity
//! is solved in closed form and the capacity itself is found by a log-spaced scan refined by a
//! golden-section search. The uncertainty of a prediction is the spread of the leave-one-out
//! refits, widened by the residual RMS.

use serde::Serialize;

/// Candidate capacities span from just above the highest measured rate to this many times it;
/// a best fit at the far end means the latencies show no curvature.
const FARTHEST: f64 = 100.0;
const SCAN: usize = 240;

/// A fitted curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Model {
    pub base_ms: f64,
    /// Milliseconds × requests per second.
    pub scale: f64,
    /// The rate the latency grows without bound towards; `None` when the data showed no
    /// curvature (the latency was flat or linear over the rates measured).
    pub capacity_rps: Option<f64>,
    /// Root mean square of the residuals, in milliseconds.
    pub rms_ms: f64,
    /// Steps the model was fitted to.
    pub points: usize,
    #[serde(skip)]
    pole: f64,
}

/// The model's p99 at a named rate, with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prediction {
    pub at_rps: f64,
    /// `None`: the rate is at or beyond the fitted capacity (the queue would grow without
    /// bound; a real server sheds or times out).
    pub p99_ms: Option<f64>,
    pub low_ms: Option<f64>,
    /// `None`: some plausible fit puts the rate beyond its capacity.
    pub high_ms: Option<f64>,
}

impl Model {
    /// The model's value at `rps`, when below the pole.
    pub fn at(&self, rps: f64) -> Option<f64> {
        (rps < self.pole).then(|| self.base_ms + self.scale / (self.pole - rps))
    }
}

/// Fits `points` (rate, p99 ms). Needs three distinct rates.
pub fn fit(points: &[(f64, f64)]) -> Option<Model> {
    let mut rates: Vec<f64> = points.iter().map(|p| p.0).collect();
    rates.sort_by(f64::total_cmp);
    rates.dedup();
    if rates.len() < 3 || points.iter().any(|(x, y)| !x.is_finite() || !y.is_finite()) {
        return None;
    }
    let highest = rates[rates.len() - 1];
    if highest <= 0.0 {
        return None;
    }
    // The pole sits at highest × (1 + e^u), u scanned on a log scale.
    let pole_of = |u: f64| highest * (1.0 + u.exp());
    let (lo, hi) = ((1e-4f64).ln(), (FARTHEST - 1.0).ln());
    let sse_of = |u: f64| solve(points, pole_of(u)).2;
    let step = (hi - lo) / SCAN as f64;
    let best = (0..=SCAN)
        .map(|i| lo + step * i as f64)
        .min_by(|a, b| sse_of(*a).total_cmp(&sse_of(*b)))?;
    let u = golden(sse_of, (best - step).max(lo), (best + step).min(hi));
    let (base_ms, scale, sse) = solve(points, pole_of(u));
    // No rise at all: every pole fits equally; the latency is flat at any rate.
    let curved = scale > 0.0 && u < hi - step;
    let pole = if scale > 0.0 {
        pole_of(u)
    } else {
        f64::INFINITY
    };
    Some(Model {
        base_ms,
        scale,
        capacity_rps: curved.then_some(pole),
        rms_ms: (sse / points.len() as f64).sqrt(),
        points: points.len(),
        pole,
    })
}

/// Predicts the p99 at `rps`, with leave-one-out refits as its range.
pub fn predict(points: &[(f64, f64)], model: &Model, rps: f64) -> Prediction {
    let mut low = model.at(rps);
    let mut high = low;
    let mut unbounded = low.is_none();
    if points.len() >= 4 {
        for skip in 0..points.len() {
            let rest: Vec<(f64, f64)> = points
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, p)| *p)
                .collect();
            match fit(&rest).and_then(|m| m.at(rps)) {
                Some(v) => {
                    low = Some(low.map_or(v, |l| l.min(v)));
                    high = Some(high.map_or(v, |h| h.max(v)));
                }
                None => unbounded = true,
            }
        }
    }
    Prediction {
        at_rps: rps,
        p99_ms: model.at(rps),
        low_ms: low.map(|l| (l - model.rms_ms).max(0.0)),
        high_ms: if unbounded {
            None
        } else {
            high.map(|h| h + model.rms_ms)
        },
    }
}

/// Least squares of `y = base + scale·z`, `z = 1/(pole − x)`, with `scale ≥ 0` (latency never
/// falls as the rate rises): (base, scale, sum of squared residuals).
fn solve(points: &[(f64, f64)], pole: f64) -> (f64, f64, f64) {
    let n = points.len() as f64;
    let zs: Vec<f64> = points.iter().map(|(x, _)| 1.0 / (pole - x)).collect();
    let mean_z = zs.iter().sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut szz, mut szy) = (0.0, 0.0);
    for (z, (_, y)) in zs.iter().zip(points) {
        szz += (z - mean_z) * (z - mean_z);
        szy += (z - mean_z) * (y - mean_y);
    }
    let scale = if szz > 0.0 { (szy / szz).max(0.0) } else { 0.0 };
    let base = mean_y - scale * mean_z;
    let sse = zs
        .iter()
        .zip(points)
        .map(|(z, (_, y))| (y - base - scale * z).powi(2))
        .sum();
    (base, scale, sse)
}

/// The minimum of a unimodal `f` on [a, b].
fn golden(f: impl Fn(f64) -> f64, mut a: f64, mut b: f64) -> f64 {
    let ratio = (5f64.sqrt() - 1.0) / 2.0;
    for _ in 0..60 {
        let c = b - ratio * (b - a);
        let d = a + ratio * (b - a);
        if f(c) < f(d) {
            b = d;
        } else {
            a = c;
        }
    }
    (a + b) / 2.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn curve(base: f64, scale: f64, capacity: f64, rates: &[f64]) -> Vec<(f64, f64)> {
        rates
            .iter()
            .map(|&x| (x, base + scale / (capacity - x)))
            .collect()
    }

    #[test]
    fn a_queueing_curve_is_recovered_and_extrapolated() {
        let rates = [100.0, 200.0, 300.0, 400.0, 500.0, 600.0, 700.0];
        let points = curve(20.0, 5000.0, 800.0, &rates);
        let model = fit(&points).expect("fits");
        let capacity = model.capacity_rps.expect("curved");
        assert!((capacity - 800.0).abs() < 1.0, "{capacity}");
        assert!(model.rms_ms < 0.01);
        let prediction = predict(&points, &model, 750.0);
        let exact = 20.0 + 5000.0 / 50.0;
        let p99 = prediction.p99_ms.expect("below capacity");
        assert!((p99 - exact).abs() < 1.0, "{p99}");
        assert!(prediction.low_ms.expect("low") <= p99);
        assert!(prediction.high_ms.expect("high") >= p99);
        // Past the capacity the model names no latency.
        assert_eq!(predict(&points, &model, 900.0).p99_ms, None);
    }

    #[test]
    fn flat_latency_has_no_capacity_and_too_few_points_no_model() {
        let points: Vec<(f64, f64)> = [100.0, 200.0, 300.0, 400.0]
            .iter()
            .map(|&x| (x, 10.0))
            .collect();
        let model = fit(&points).expect("fits");
        assert_eq!(model.capacity_rps, None);
        assert!((model.at(1000.0).expect("finite") - 10.0).abs() < 0.5);
        assert!(fit(&points[..2]).is_none());
        assert!(fit(&[(1.0, 1.0), (1.0, 2.0), (2.0, 3.0)]).is_none());
    }

    proptest! {
        /// Noisy samples of a queueing curve: the fitted capacity lands near the true one and
        /// the prediction's range covers the true value halfway between the last point and it.
        #[test]
        fn noisy_curves_are_fitted_closely(
            capacity in 200.0f64..5000.0,
            base in 1.0f64..50.0,
            noise in prop::collection::vec(-0.02f64..0.02, 8),
        ) {
            let rates: Vec<f64> = (1..=8).map(|i| capacity * 0.1 * i as f64 + capacity * 0.05).collect();
            let scale = base * capacity * 0.2;
            let points: Vec<(f64, f64)> = curve(base, scale, capacity, &rates)
                .into_iter()
                .zip(&noise)
                .map(|((x, y), e)| (x, y * (1.0 + e)))
                .collect();
            let model = fit(&points).expect("fits");
            let fitted = model.capacity_rps.expect("curved");
            prop_assert!((fitted - capacity).abs() / capacity < 0.1, "{} vs {}", fitted, capacity);
            let at = capacity * 0.87;
            let truth = base + scale / (capacity - at);
            let prediction = predict(&points, &model, at);
            prop_assert!(prediction.low_ms.expect("low") <= truth * 1.05);
            if let Some(high) = prediction.high_ms {
                prop_assert!(high >= truth * 0.95, "{} < {}", high, truth);
            }
        }
    }
}
