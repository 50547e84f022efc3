//! Logs drawn from known processes: the same process must pass, a different one must not.

use super::*;
use crate::traffic::formats::{LogFormat, Seen};
use ptl_test_support::draw::Draw;

fn seen(at_us: i64, path: &str) -> Seen {
    Seen {
        at_us,
        method: "GET".into(),
        path: path.into(),
        status: Some(200),
        request_bytes: Some(60),
        response_bytes: Some(500),
        client: None,
    }
}

fn traffic(times: Vec<i64>, paths: impl Fn(&mut Draw) -> String, seed: u64) -> Traffic {
    let mut d = Draw(seed ^ 0xABCD);
    Traffic {
        format: LogFormat::Jsonl,
        requests: times.into_iter().map(|t| seen(t, &paths(&mut d))).collect(),
        resolution_us: 1,
        unreadable: 0,
        dropped: None,
    }
}

/// A Poisson process at `rate` per second for `secs`.
fn poisson(rate: f64, secs: f64, seed: u64) -> Vec<i64> {
    let mut d = Draw(seed);
    let (mut t, mut out) = (0.0, Vec::new());
    loop {
        t += d.exponential(1.0 / rate);
        if t >= secs {
            return out;
        }
        out.push((t * 1e6) as i64);
    }
}

/// Bursts at the same mean rate: in each second, every arrival falls in its first 100 ms.
fn bursty(rate: f64, secs: f64, seed: u64) -> Vec<i64> {
    let mut d = Draw(seed);
    let mut out: Vec<i64> = poisson(rate, secs, seed ^ 7)
        .into_iter()
        .map(|t| (t / 1_000_000) * 1_000_000 + (d.unit() * 100_000.0) as i64)
        .collect();
    out.sort_unstable();
    out
}

fn mix(search_share: f64) -> impl Fn(&mut Draw) -> String {
    move |d: &mut Draw| {
        if d.unit() < search_share {
            "/search?q=x".into()
        } else {
            format!("/items/{}", (d.unit() * 1000.0) as u64)
        }
    }
}

fn verdict(c: &Comparison, name: &str) -> Verdict {
    c.dimension(name).expect(name).verdict
}

#[test]
fn two_samples_of_one_poisson_process_are_alike_on_every_dimension() {
    let a = traffic(poisson(200.0, 60.0, 1), mix(0.3), 1);
    let b = traffic(poisson(200.0, 60.0, 2), mix(0.3), 2);
    let c = compare(&a, &b, 0.01);
    assert!(!c.differs(), "{}", crate::traffic::render::text(&c));
    assert_eq!(verdict(&c, "inter_arrival"), Verdict::Alike);
    assert_eq!(verdict(&c, "rate_over_time"), Verdict::Alike);
}

#[test]
fn a_poisson_process_and_a_bursty_one_at_the_same_rate_are_told_apart() {
    let a = traffic(poisson(200.0, 60.0, 3), mix(0.3), 3);
    let b = traffic(bursty(200.0, 60.0, 4), mix(0.3), 4);
    let c = compare(&a, &b, 0.01);
    assert!(c.differs());
    assert_eq!(verdict(&c, "inter_arrival"), Verdict::Differs);
    // The mean rates are the same, within noise: the shape is what differs.
    assert!((c.baseline.mean_rps / c.test.mean_rps - 1.0).abs() < 0.05);
    assert_eq!(verdict(&c, "endpoints"), Verdict::Alike);
}

#[test]
fn twice_the_rate_with_the_same_shape_is_alike() {
    let a = traffic(poisson(100.0, 60.0, 5), mix(0.3), 5);
    let b = traffic(poisson(200.0, 60.0, 6), mix(0.3), 6);
    let c = compare(&a, &b, 0.01);
    assert!(!c.differs(), "{}", crate::traffic::render::text(&c));
}

#[test]
fn a_changed_endpoint_mix_is_caught_and_named() {
    let a = traffic(poisson(200.0, 30.0, 7), mix(0.12), 7);
    let b = traffic(poisson(200.0, 30.0, 8), mix(0.30), 8);
    let c = compare(&a, &b, 0.01);
    let d = c.dimension("endpoints").unwrap();
    assert_eq!(d.verdict, Verdict::Differs);
    let top = &d.differences[0];
    assert_eq!(top.what, "GET /search");
    assert_eq!(
        crate::traffic::render::difference_text(top),
        "GET /search is 12.3% of baseline, 29.9% of test"
    );
    // Items fold into one endpoint: IDs are not categories.
    assert!(c.dimension("endpoints").unwrap().differences.len() <= 2);
}

#[test]
fn a_rate_curve_of_another_shape_is_caught() {
    // Flat against a ramp (rate rising over the run) with the same count.
    let flat = traffic(poisson(100.0, 60.0, 9), mix(0.3), 9);
    let mut d = Draw(10);
    let ramp: Vec<i64> = {
        let mut v: Vec<i64> = (0..flat.requests.len())
            .map(|_| (60.0 * d.unit().sqrt() * 1e6) as i64)
            .collect();
        v.sort_unstable();
        v
    };
    let c = compare(&flat, &traffic(ramp, mix(0.3), 10), 0.01);
    assert_eq!(verdict(&c, "rate_over_time"), Verdict::Differs);
}

#[test]
fn a_dimension_one_side_lacks_is_skipped_not_failed() {
    let a = traffic(poisson(50.0, 10.0, 11), mix(0.3), 11);
    let mut b = traffic(poisson(50.0, 10.0, 12), mix(0.3), 12);
    b.requests.iter_mut().for_each(|r| r.request_bytes = None);
    let c = compare(&a, &b, 0.01);
    assert_eq!(verdict(&c, "request_bytes"), Verdict::Skipped);
}
