//! The two-sample tests: Kolmogorov–Smirnov for continuous dimensions, chi-square (test of
//! homogeneity) for categorical ones, with their p-values from the asymptotic Kolmogorov
//! distribution and the regularized upper incomplete gamma function.

use serde::Serialize;

/// A two-sample Kolmogorov–Smirnov test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Ks {
    /// The largest distance between the two empirical distribution functions.
    pub statistic: f64,
    pub p_value: f64,
}

/// Tests whether `a` and `b` come from one distribution. `None` if either is empty. Ties
/// (across the samples too) step both distribution functions together.
pub fn ks(a: &[f64], b: &[f64]) -> Option<Ks> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let sorted = |s: &[f64]| {
        let mut v: Vec<f64> = s.iter().copied().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let (a, b) = (sorted(a), sorted(b));
    let (n, m) = (a.len() as f64, b.len() as f64);
    let (mut i, mut j, mut d) = (0usize, 0usize, 0f64);
    while i < a.len() && j < b.len() {
        let x = a[i].min(b[j]);
        while i < a.len() && a[i] <= x {
            i += 1;
        }
        while j < b.len() && b[j] <= x {
            j += 1;
        }
        d = d.max((i as f64 / n - j as f64 / m).abs());
    }
    let en = (n * m / (n + m)).sqrt();
    // Stephens' small-sample correction of the asymptotic distribution.
    let p_value = kolmogorov_q((en + 0.12 + 0.11 / en) * d);
    Some(Ks {
        statistic: d,
        p_value,
    })
}

/// P(K > λ) for the Kolmogorov distribution: 2 Σ (−1)^(k−1) e^(−2k²λ²).
pub fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        // The series needs many terms here, and the value is 1 to 15 digits.
        return 1.0;
    }
    let mut sum = 0.0;
    let mut sign = 1.0;
    for k in 1..=100 {
        let k = k as f64;
        let term = (-2.0 * k * k * lambda * lambda).exp();
        sum += sign * term;
        if term < 1e-16 {
            break;
        }
        sign = -sign;
    }
    (2.0 * sum).clamp(0.0, 1.0)
}

/// A chi-square test of homogeneity of two samples' counts over the same categories.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChiSquare {
    pub statistic: f64,
    pub dof: usize,
    pub p_value: f64,
}

/// Tests whether two samples share one distribution over categories: `a[i]`, `b[i]` are the
/// counts of category `i`. Categories where both are 0 are left out. `None` with fewer than
/// two categories or an empty sample.
pub fn chi_square(a: &[u64], b: &[u64]) -> Option<ChiSquare> {
    let (na, nb): (u64, u64) = (a.iter().sum(), b.iter().sum());
    if na == 0 || nb == 0 {
        return None;
    }
    let total = (na + nb) as f64;
    let mut statistic = 0.0;
    let mut categories = 0usize;
    for (&x, &y) in a.iter().zip(b) {
        if x + y == 0 {
            continue;
        }
        categories += 1;
        let col = (x + y) as f64;
        for (obs, n) in [(x, na), (y, nb)] {
            let expected = col * n as f64 / total;
            statistic += (obs as f64 - expected).powi(2) / expected;
        }
    }
    if categories < 2 {
        return None;
    }
    let dof = categories - 1;
    Some(ChiSquare {
        statistic,
        dof,
        p_value: gamma_q(dof as f64 / 2.0, statistic / 2.0),
    })
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms: about 15 digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x)Γ(1−x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Q(a, x) = Γ(a, x) / Γ(a), the regularized upper incomplete gamma function, for a > 0,
/// x ≥ 0: the series for P below a + 1, Lentz's continued fraction for Q above.
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let front = (a * x.ln() - x - ln_gamma(a)).exp();
    if x < a + 1.0 {
        let (mut sum, mut term, mut n) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            n += 1.0;
            term *= x / n;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (1.0 - sum * front).clamp(0.0, 1.0)
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (front * h).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests;
