use super::*;
use proptest::prelude::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn ln_gamma_matches_factorials_and_root_pi() {
    assert!(close(ln_gamma(1.0), 0.0, 1e-13));
    assert!(close(ln_gamma(10.0), 362_880f64.ln(), 1e-12));
    assert!(close(
        ln_gamma(0.5),
        std::f64::consts::PI.sqrt().ln(),
        1e-13
    ));
    assert!(close(ln_gamma(100.0), 359.134_205_369_575_4, 1e-9));
}

#[test]
fn chi_square_critical_values_give_their_p_values() {
    // (dof, the 95th or 99th percentile of chi-square(dof), 1 − that level) from the tables.
    for (dof, x, p) in [
        (1.0, 3.841_459, 0.05),
        (2.0, 5.991_465, 0.05),
        (10.0, 23.209_251, 0.01),
        (30.0, 50.892_181, 0.01),
        (5.0, 1.145_476, 0.95),
    ] {
        let q = gamma_q(dof / 2.0, x / 2.0);
        assert!(close(q, p, 1e-6), "dof {dof}: {q} vs {p}");
    }
}

#[test]
fn kolmogorov_q_at_its_critical_values() {
    assert!(close(kolmogorov_q(1.358_1), 0.05, 1e-4));
    assert!(close(kolmogorov_q(1.627_6), 0.01, 1e-4));
    assert_eq!(kolmogorov_q(0.0), 1.0);
    assert!(kolmogorov_q(5.0) < 1e-20);
}

#[test]
fn ks_of_a_sample_with_itself_is_zero_and_of_disjoint_ones_is_one() {
    let a: Vec<f64> = (0..100).map(f64::from).collect();
    let same = ks(&a, &a).unwrap();
    assert_eq!(same.statistic, 0.0);
    assert_eq!(same.p_value, 1.0);
    let b: Vec<f64> = (200..300).map(f64::from).collect();
    let apart = ks(&a, &b).unwrap();
    assert_eq!(apart.statistic, 1.0);
    assert!(apart.p_value < 1e-20);
    // By hand: F_a(2) = 2/3, F_b(2) = 0 is the widest gap.
    assert!(close(
        ks(&[1.0, 2.0, 3.0], &[2.5, 3.5]).unwrap().statistic,
        2.0 / 3.0,
        1e-12
    ));
    assert!(ks(&[], &a).is_none());
}

#[test]
fn chi_square_of_proportional_counts_is_zero() {
    let c = chi_square(&[10, 20, 30], &[20, 40, 60]).unwrap();
    assert!(close(c.statistic, 0.0, 1e-12));
    assert_eq!(c.dof, 2);
    assert!(close(c.p_value, 1.0, 1e-12));
    // 2×2 by hand: expected 15 everywhere, (5² / 15) × 4.
    let c = chi_square(&[10, 20], &[20, 10]).unwrap();
    assert!(close(c.statistic, 20.0 / 3.0, 1e-9), "{}", c.statistic);
    assert!(chi_square(&[5, 0], &[7, 0]).is_none());
}

/// Q(n, x) for an integer n is a Poisson tail: e^−x Σ_{k<n} x^k / k!.
fn poisson_cdf(n: u32, x: f64) -> f64 {
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    for k in 1..n {
        term *= x / f64::from(k);
        sum += term;
    }
    sum * (-x).exp()
}

proptest! {
    #[test]
    fn gamma_q_is_a_poisson_tail_for_integer_shapes(n in 1u32..40, x in 0.0f64..80.0) {
        let q = gamma_q(f64::from(n), x);
        let want = poisson_cdf(n, x);
        prop_assert!((q - want).abs() <= 1e-9 + want * 1e-9, "Q({n}, {x}) = {q}, want {want}");
    }

    #[test]
    fn gamma_q_falls_as_x_grows(a in 0.1f64..50.0, x in 0.0f64..100.0, dx in 0.0f64..10.0) {
        let (q1, q2) = (gamma_q(a, x), gamma_q(a, x + dx));
        prop_assert!((0.0..=1.0).contains(&q1));
        prop_assert!(q2 <= q1 + 1e-12);
    }

    #[test]
    fn ks_is_symmetric_and_bounded(a in proptest::collection::vec(0.0f64..10.0, 1..50),
                                   b in proptest::collection::vec(0.0f64..10.0, 1..50)) {
        let (x, y) = (ks(&a, &b).unwrap(), ks(&b, &a).unwrap());
        prop_assert!((x.statistic - y.statistic).abs() < 1e-12);
        prop_assert!((0.0..=1.0).contains(&x.statistic));
        prop_assert!((0.0..=1.0).contains(&x.p_value));
    }
}
