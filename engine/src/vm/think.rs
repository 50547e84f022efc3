//! Drawing think times, uniform in a range or exponential around a mean, from a worker's
//! seeded generator: a run's pauses follow from its seed like its generated values.

use ptl_bytecode::plan::Think;
use rand::{Rng, RngExt};
use rand_distr::Exp1;

/// One pause of `think`, in µs. A uniform range may come in either order (a hand-built plan
/// is not checked for it).
pub fn draw_think<R: Rng + ?Sized>(think: Think, rng: &mut R) -> u64 {
    match think {
        Think::Uniform { min_us, max_us } if min_us == max_us => min_us,
        Think::Uniform { min_us, max_us } => {
            rng.random_range(min_us.min(max_us)..=max_us.max(min_us))
        }
        Think::Exponential { mean_us: 0 } => 0,
        Think::Exponential { mean_us } => {
            let x: f64 = rng.sample(Exp1);
            // `as` saturates: a decoded plan may hold any mean.
            (x * mean_us as f64).round() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn draws(think: Think, n: usize) -> Vec<u64> {
        let mut rng = SmallRng::seed_from_u64(42);
        (0..n).map(|_| draw_think(think, &mut rng)).collect()
    }

    #[test]
    fn fixed_and_none_are_exact() {
        assert!(draws(Think::fixed(250), 100).iter().all(|&t| t == 250));
        assert!(draws(Think::NONE, 100).iter().all(|&t| t == 0));
        let zero_mean = Think::Exponential { mean_us: 0 };
        assert!(draws(zero_mean, 100).iter().all(|&t| t == 0));
    }

    /// 20,000 seeded draws: the bounds hold, and the mean and the share below the midpoint are
    /// those of a uniform distribution (both well inside what 20,000 draws can stray).
    #[test]
    fn uniform_covers_its_range_evenly() {
        let range = Think::Uniform {
            min_us: 1_000_000,
            max_us: 3_000_000,
        };
        let d = draws(range, 20_000);
        assert!(d.iter().all(|t| (1_000_000..=3_000_000).contains(t)));
        let mean = d.iter().sum::<u64>() as f64 / d.len() as f64;
        assert!((mean - 2_000_000.0).abs() < 20_000.0, "mean {mean}");
        let low = d.iter().filter(|&&t| t < 1_500_000).count() as f64 / d.len() as f64;
        assert!((low - 0.25).abs() < 0.02, "below 1.5s: {low}");
        let reversed = Think::Uniform {
            min_us: 3_000_000,
            max_us: 1_000_000,
        };
        assert!(draws(reversed, 100)
            .iter()
            .all(|t| (1_000_000..=3_000_000).contains(t)));
    }

    /// An exponential with mean m: the sample mean is m, the standard deviation is m as well,
    /// P(t < m) = 1 - 1/e and P(t > 3m) = 1/e³; pauses are not bounded by a range.
    #[test]
    fn exponential_has_its_mean_and_its_shape() {
        let m = 1_000_000.0;
        let d = draws(Think::Exponential { mean_us: 1_000_000 }, 20_000);
        let n = d.len() as f64;
        let mean = d.iter().sum::<u64>() as f64 / n;
        assert!((mean - m).abs() < 0.03 * m, "mean {mean}");
        let var = d.iter().map(|&t| (t as f64 - mean).powi(2)).sum::<f64>() / n;
        assert!((var.sqrt() - m).abs() < 0.05 * m, "sd {}", var.sqrt());
        let below = d.iter().filter(|&&t| (t as f64) < m).count() as f64 / n;
        assert!(
            (below - (1.0 - (-1.0f64).exp())).abs() < 0.015,
            "below mean {below}"
        );
        let far = d.iter().filter(|&&t| (t as f64) > 3.0 * m).count() as f64 / n;
        assert!((far - (-3.0f64).exp()).abs() < 0.01, "above 3× mean {far}");
        assert!(d.iter().any(|&t| t < 50_000), "short pauses happen");
    }

    #[test]
    fn the_same_seed_draws_the_same_pauses() {
        let t = Think::Exponential { mean_us: 5_000 };
        assert_eq!(draws(t, 50), draws(t, 50));
    }
}
