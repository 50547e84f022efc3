//! Arrival schedules against the integral of their rate.

use super::*;
use proptest::prelude::*;

fn all(s: &mut Schedule) -> Vec<u64> {
    std::iter::from_fn(|| s.next_arrival()).collect()
}

fn count_in(arrivals: &[u64], from_us: u64, to_us: u64) -> usize {
    arrivals.partition_point(|&t| t < to_us) - arrivals.partition_point(|&t| t < from_us)
}

/// Open loads small enough to enumerate (at most a few tens of thousands of arrivals).
fn open_load() -> impl Strategy<Value = Load> {
    prop_oneof![
        (0.0..2000.0f64, 0u64..10_000_000).prop_map(|(per_sec, duration_us)| Load::Rate {
            per_sec,
            duration_us
        }),
        (0.0..2000.0f64, 0.0..2000.0f64, 0u64..10_000_000).prop_map(|(from, to, duration_us)| {
            Load::Ramp {
                from,
                to,
                duration_us,
            }
        }),
        (0.0..500.0f64, 1u64..20, 0.5..200.0f64, 1u64..500_000).prop_map(
            |(from, levels, by, every_us)| Load::Steps {
                from,
                // Half a step of slack so that rounding cannot drop the last level.
                to: from + (levels as f64 - 0.5) * by,
                by,
                every_us,
            }
        ),
    ]
}

fn arrivals_kind() -> impl Strategy<Value = Arrivals> {
    prop_oneof![Just(Arrivals::Uniform), Just(Arrivals::Poisson)]
}

proptest! {
    #[test]
    fn arrivals_are_ordered_and_within_the_phase(
        load in open_load(),
        kind in arrivals_kind(),
        fraction in 0.01..=1.0f64,
        seed in any::<u64>(),
    ) {
        let mut s = Schedule::new(&load, kind, fraction, seed);
        let times = all(&mut s);
        prop_assert!(times.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(times.iter().all(|&t| t < load.duration_us()));
        prop_assert_eq!(s.next_arrival(), None, "stays exhausted");
        prop_assert_eq!(s.emitted(), times.len() as u64);
        prop_assert_eq!(s.duration_us(), load.duration_us());
    }

    #[test]
    fn uniform_counts_match_the_integral(load in open_load(), fraction in 0.01..=1.0f64) {
        let mut s = Schedule::new(&load, Arrivals::Uniform, fraction, 0);
        let n = all(&mut s).len() as f64;
        let expected = s.expected_arrivals(load.duration_us());
        prop_assert!((n - expected).abs() <= 1.0, "{} arrivals, integral {}", n, expected);
    }

    #[test]
    fn uniform_sub_intervals_follow_the_shape(
        load in open_load(),
        fraction in 0.01..=1.0f64,
        cuts in proptest::collection::vec(0.0..1.0f64, 1..6),
    ) {
        let mut s = Schedule::new(&load, Arrivals::Uniform, fraction, 0);
        let times = all(&mut s);
        let d = load.duration_us();
        let mut bounds: Vec<u64> = cuts.iter().map(|c| (c * d as f64) as u64).collect();
        bounds.push(0);
        bounds.push(d);
        bounds.sort_unstable();
        for w in bounds.windows(2) {
            let got = count_in(&times, w[0], w[1]) as f64;
            let want = s.expected_arrivals(w[1]) - s.expected_arrivals(w[0]);
            // ±1 from placement, ±1 more from rounding arrival times to whole µs.
            prop_assert!((got - want).abs() <= 2.0, "[{}, {}): {} vs {}", w[0], w[1], got, want);
        }
    }

    #[test]
    fn equal_agents_together_send_the_solo_schedule(
        load in open_load(),
        agents in 1u32..6,
    ) {
        let mut solo = Schedule::new(&load, Arrivals::Uniform, 1.0, 0);
        let solo_times = all(&mut solo);
        let mut merged = Vec::new();
        for index in 0..agents {
            let share = AgentShare::equal(index, agents).expect("valid share");
            let mut s = Schedule::for_agent(&load, Arrivals::Uniform, &share, 0);
            merged.extend(all(&mut s));
        }
        merged.sort_unstable();
        prop_assert!((merged.len() as i64 - solo_times.len() as i64).abs() <= 1);
        for (a, b) in merged.iter().zip(&solo_times) {
            prop_assert!(a.abs_diff(*b) <= 1, "{} vs {}", a, b);
        }
    }

    #[test]
    fn rate_and_integral_agree(load in open_load(), fraction in 0.01..=1.0f64) {
        let s = Schedule::new(&load, Arrivals::Uniform, fraction, 0);
        let d = load.duration_us();
        prop_assert_eq!(s.expected_arrivals(0), 0.0);
        prop_assert_eq!(s.target_rate_at(d), 0.0);
        // The integral is the sum of the rate over small slices (midpoint rule).
        let slices = 400u64;
        let mut sum = 0.0;
        for i in 0..slices {
            let (a, b) = (d * i / slices, d * (i + 1) / slices);
            sum += s.target_rate_at((a + b) / 2) * (b - a) as f64 / 1e6;
        }
        let total = s.expected_arrivals(d);
        prop_assert!((sum - total).abs() <= 1e-6 * total.max(1.0) + 0.02 * total, "{} vs {}", sum, total);
        if d > 0 {
            prop_assert!((s.mean_rate() - total / (d as f64 / 1e6)).abs() < 1e-9 * total.max(1.0));
        }
    }
}

#[test]
fn constant_rate_is_exact_and_does_not_drift() {
    // 1000/s for an hour: arrival k is due at (k + ½) ms, to the microsecond, to the end.
    let load = Load::Rate {
        per_sec: 1000.0,
        duration_us: 3_600_000_000,
    };
    let mut s = Schedule::new(&load, Arrivals::Uniform, 1.0, 0);
    let mut k = 0u64;
    while let Some(t) = s.next_arrival() {
        assert_eq!(t, k * 1000 + 500, "arrival {k}");
        k += 1;
    }
    assert_eq!(k, 3_600_000);
    assert_eq!(s.mean_rate(), 1000.0);
}

#[test]
fn ramps_solve_the_quadratic() {
    // 0 → 100/s over 10 s: Λ(t) = 5t², so arrival k is due at √((k + ½)/5) s.
    let load = Load::Ramp {
        from: 0.0,
        to: 100.0,
        duration_us: 10_000_000,
    };
    let mut s = Schedule::new(&load, Arrivals::Uniform, 1.0, 0);
    let times = all(&mut s);
    assert_eq!(times.len(), 500);
    for (k, &t) in times.iter().enumerate() {
        let want = ((k as f64 + 0.5) / 5.0).sqrt() * 1e6;
        assert!((t as f64 - want).abs() <= 1.0, "arrival {k}: {t} vs {want}");
    }
    assert_eq!(s.target_rate_at(5_000_000), 50.0);
    assert_eq!(s.expected_arrivals(5_000_000), 125.0);
    assert_eq!(s.mean_rate(), 50.0);

    // Ramping down is the mirror image: the same gaps in reverse order.
    let down = Load::Ramp {
        from: 100.0,
        to: 0.0,
        duration_us: 10_000_000,
    };
    let down_times = all(&mut Schedule::new(&down, Arrivals::Uniform, 1.0, 0));
    assert_eq!(down_times.len(), 500);
    for (a, b) in down_times.iter().zip(times.iter().rev()) {
        assert!((a + b).abs_diff(10_000_000) <= 2, "{a} + {b}");
    }
}

#[test]
fn steps_hold_each_level_for_its_interval() {
    let load = Load::Steps {
        from: 10.0,
        to: 40.0,
        by: 10.0,
        every_us: 2_000_000,
    };
    let mut s = Schedule::new(&load, Arrivals::Uniform, 1.0, 0);
    assert_eq!(s.duration_us(), 8_000_000);
    for (level, rate) in [10.0, 20.0, 30.0, 40.0].iter().enumerate() {
        let t = level as u64 * 2_000_000;
        assert_eq!(s.target_rate_at(t), *rate);
        assert_eq!(s.target_rate_at(t + 1_999_999), *rate);
    }
    let times = all(&mut s);
    let per_step: Vec<usize> = (0..4)
        .map(|i| count_in(&times, i * 2_000_000, (i + 1) * 2_000_000))
        .collect();
    assert_eq!(per_step, [20, 40, 60, 80]);
}

#[test]
fn fractions_scale_the_rate() {
    let load = Load::Rate {
        per_sec: 300.0,
        duration_us: 2_000_000,
    };
    let mut s = Schedule::new(&load, Arrivals::Uniform, 0.25, 0);
    assert_eq!(s.target_rate_at(0), 75.0);
    assert_eq!(all(&mut s).len(), 150);
}

#[test]
fn pause_and_users_have_no_arrivals() {
    let pause = Load::Pause {
        duration_us: 5_000_000,
    };
    let mut s = Schedule::new(&pause, Arrivals::Uniform, 1.0, 0);
    assert!(!s.is_closed());
    assert_eq!(s.next_arrival(), None);
    assert_eq!(s.duration_us(), 5_000_000);
    assert_eq!(s.mean_rate(), 0.0);
    assert_eq!(s.expected_arrivals(5_000_000), 0.0);

    let users = Load::Users {
        users: 50,
        duration_us: 60_000_000,
        think: ptl_bytecode::plan::Think::fixed(100_000),
    };
    let mut s = Schedule::new(&users, Arrivals::Poisson, 1.0, 0);
    assert!(s.is_closed());
    assert_eq!(s.next_arrival(), None);
    assert_eq!(s.target_rate_at(1), 0.0);
    assert_eq!(s.duration_us(), 60_000_000);

    let open = Load::Rate {
        per_sec: 1.0,
        duration_us: 1,
    };
    assert!(!Schedule::new(&open, Arrivals::Uniform, 1.0, 0).is_closed());
}

#[test]
fn poisson_counts_are_poisson_distributed() {
    // Λ = 400 over the phase; 300 independent runs.
    let load = Load::Rate {
        per_sec: 200.0,
        duration_us: 2_000_000,
    };
    let lambda = 400.0;
    let runs = 300;
    let counts: Vec<f64> = (0..runs)
        .map(|seed| all(&mut Schedule::new(&load, Arrivals::Poisson, 1.0, seed)).len() as f64)
        .collect();
    for &c in &counts {
        // Six standard deviations: fails with probability ~1e-9 per run.
        assert!((c - lambda).abs() < 6.0 * lambda.sqrt(), "{c}");
    }
    let mean = counts.iter().sum::<f64>() / runs as f64;
    let var = counts.iter().map(|c| (c - mean).powi(2)).sum::<f64>() / (runs - 1) as f64;
    assert!(
        (mean - lambda).abs() < 5.0 * (lambda / runs as f64).sqrt(),
        "mean {mean}"
    );
    // A Poisson count's variance equals its mean (a uniform schedule's would be ~0).
    assert!((0.6..1.4).contains(&(var / lambda)), "variance {var}");
    // Distinct seeds give distinct streams; equal seeds the same one.
    let a = all(&mut Schedule::new(&load, Arrivals::Poisson, 1.0, 1));
    let b = all(&mut Schedule::new(&load, Arrivals::Poisson, 1.0, 1));
    let c = all(&mut Schedule::new(&load, Arrivals::Poisson, 1.0, 2));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn poisson_ramps_follow_their_shape() {
    // 0 → 200/s over 4 s: the second half carries three times the first half's arrivals.
    let load = Load::Ramp {
        from: 0.0,
        to: 200.0,
        duration_us: 4_000_000,
    };
    let (mut first, mut second) = (0.0, 0.0);
    let runs = 200;
    for seed in 0..runs {
        let times = all(&mut Schedule::new(&load, Arrivals::Poisson, 1.0, seed));
        first += count_in(&times, 0, 2_000_000) as f64;
        second += count_in(&times, 2_000_000, 4_000_000) as f64;
    }
    let (want_first, want_second) = (100.0 * runs as f64, 300.0 * runs as f64);
    assert!(
        (first - want_first).abs() < 5.0 * want_first.sqrt(),
        "{first}"
    );
    assert!(
        (second - want_second).abs() < 5.0 * want_second.sqrt(),
        "{second}"
    );
}

#[test]
fn agents_get_independent_poisson_streams() {
    let load = Load::Rate {
        per_sec: 100.0,
        duration_us: 1_000_000,
    };
    let share = |i| AgentShare::equal(i, 2).expect("valid share");
    let a = all(&mut Schedule::for_agent(
        &load,
        Arrivals::Poisson,
        &share(0),
        9,
    ));
    let b = all(&mut Schedule::for_agent(
        &load,
        Arrivals::Poisson,
        &share(1),
        9,
    ));
    assert_ne!(a, b);
}

/// Share changes `(at_us, fraction)` in time order, within a phase of `duration_us`.
fn changes(duration_us: u64) -> impl Strategy<Value = Vec<(u64, f64)>> {
    proptest::collection::vec((0.0..1.0f64, 0.0..=1.0f64), 0..4).prop_map(move |mut v| {
        v.sort_by(|a, b| a.0.total_cmp(&b.0));
        v.into_iter()
            .map(|(at, f)| ((at * duration_us as f64) as u64, f))
            .collect()
    })
}

proptest! {
    #[test]
    fn rescaled_counts_match_the_rebased_integral(
        load in open_load(),
        fraction in 0.01..=1.0f64,
        cuts in changes(10_000_000),
    ) {
        let d = load.duration_us();
        let mut s = Schedule::new(&load, Arrivals::Uniform, fraction, 0);
        let mut expected = 0.0;
        let (mut from, mut rate) = (0u64, fraction);
        for &(at, f) in &cuts {
            let at = at.min(d);
            s.rescale(at, f);
            // The integral of the fraction in force over each stretch, from the plan's curve.
            let plan = Schedule::new(&load, Arrivals::Uniform, rate, 0);
            expected += plan.expected_arrivals(at.max(from)) - plan.expected_arrivals(from);
            (from, rate) = (at.max(from), f);
        }
        let plan = Schedule::new(&load, Arrivals::Uniform, rate, 0);
        expected += plan.expected_arrivals(d) - plan.expected_arrivals(from);
        prop_assert!((s.expected_arrivals(d) - expected).abs() <= 1e-6 * expected.max(1.0));
        let times = all(&mut s);
        prop_assert!(times.windows(2).all(|w| w[0] <= w[1]));
        prop_assert!(times.iter().all(|&t| t < d));
        let n = times.len() as f64;
        prop_assert!((n - expected).abs() <= 1.0 + 1e-9 * expected, "{} arrivals, integral {}", n, expected);
    }

    #[test]
    fn learning_of_a_change_early_gives_the_same_arrivals(
        load in open_load(),
        kind in arrivals_kind(),
        fraction in 0.01..=1.0f64,
        cuts in changes(10_000_000),
        seed in any::<u64>(),
    ) {
        // Told everything up front…
        let mut told = Schedule::new(&load, kind, fraction, seed);
        for &(at, f) in &cuts {
            told.rescale(at, f);
        }
        // …or each change just before the walk reaches it: the same arrivals at the same times.
        let mut walking = Schedule::new(&load, kind, fraction, seed);
        let mut pending = cuts.iter().peekable();
        let mut times = Vec::new();
        loop {
            while let Some(&&(at, f)) = pending.peek() {
                match walking.peek_arrival() {
                    Some(t) if t < at => break,
                    _ => {
                        walking.rescale(at, f);
                        pending.next();
                    }
                }
            }
            match walking.next_arrival() {
                Some(t) => times.push(t),
                None => break,
            }
        }
        prop_assert_eq!(times, all(&mut told));
    }

    #[test]
    fn learning_of_a_rate_increase_late_keeps_the_count(
        load in open_load(),
        kind in arrivals_kind(),
        fraction in 0.01..=0.5f64,
        at in 0.0..1.0f64,
        more in 0.0..=0.5f64,
        late_by in 0usize..50,
        seed in any::<u64>(),
    ) {
        // A worker that hears of a larger share only after handing out `late_by` more
        // arrivals sends them at the old times, but the phase has the same number of arrivals
        // as for a worker told in time: every copy agrees on the count.
        let at_us = (at * load.duration_us() as f64) as u64;
        let mut told = Schedule::new(&load, kind, fraction, seed);
        told.rescale(at_us, fraction + more);
        let mut late = Schedule::new(&load, kind, fraction, seed);
        let mut n = 0usize;
        let mut past = 0usize;
        let mut heard = false;
        loop {
            if !heard && past >= late_by {
                late.rescale(at_us, fraction + more);
                heard = true;
            }
            match late.next_arrival() {
                Some(t) => {
                    n += 1;
                    if t >= at_us {
                        past += 1;
                    }
                }
                None if !heard => {
                    late.rescale(at_us, fraction + more);
                    heard = true;
                }
                None => break,
            }
        }
        prop_assert_eq!(n, all(&mut told).len());
    }
}

#[test]
fn a_doubled_share_mid_phase_sends_the_rebased_count() {
    // 100/s for 10 s at a quarter share, doubled at 4 s: 4 s × 25/s + 6 s × 50/s.
    let load = Load::Rate {
        per_sec: 100.0,
        duration_us: 10_000_000,
    };
    let mut s = Schedule::new(&load, Arrivals::Uniform, 0.25, 0);
    s.rescale(4_000_000, 0.5);
    let times = all(&mut s);
    assert_eq!(times.len(), 400);
    assert_eq!(count_in(&times, 0, 4_000_000), 100);
    assert_eq!(count_in(&times, 4_000_000, 10_000_000), 300);
    // A share of 0 ends the arrivals until a later change.
    let mut s = Schedule::new(&load, Arrivals::Uniform, 0.25, 0);
    s.rescale(2_000_000, 0.0);
    s.rescale(6_000_000, 0.25);
    let times = all(&mut s);
    assert_eq!(count_in(&times, 2_000_000, 6_000_000), 0);
    assert_eq!(times.len(), 50 + 100);
}
