//! Faults the target produces on purpose: Envoy's fault-injection headers and the seeded
//! error share.

use hyper::header::HeaderMap;
use hyper::StatusCode;
use std::time::Duration;

pub(crate) const ABORT_HEADER: &str = "x-envoy-fault-abort-request";
pub(crate) const DELAY_HEADER: &str = "x-envoy-fault-delay-request";

/// A delay header longer than this is clamped: a typo must not park a connection for days.
pub(crate) const MAX_FAULT_DELAY: Duration = Duration::from_secs(600);

/// The status asked for by `x-envoy-fault-abort-request`, when it is a final status
/// (200..=599, as Envoy accepts); anything else is ignored, as Envoy ignores it.
pub(crate) fn abort_status(headers: &HeaderMap) -> Option<StatusCode> {
    let raw = headers.get(ABORT_HEADER)?.to_str().ok()?.trim();
    let code: u16 = raw.parse().ok()?;
    if !(200..=599).contains(&code) {
        return None;
    }
    StatusCode::from_u16(code).ok()
}

/// The delay asked for by `x-envoy-fault-delay-request` (milliseconds), clamped to
/// `MAX_FAULT_DELAY`; unparsable values are ignored.
pub(crate) fn fault_delay(headers: &HeaderMap) -> Option<Duration> {
    let raw = headers.get(DELAY_HEADER)?.to_str().ok()?.trim();
    let ms: u64 = raw.parse().ok()?;
    Some(Duration::from_millis(ms).min(MAX_FAULT_DELAY))
}

/// Whether the `n`-th counted request fails under `seed` and `error_rate`.
///
/// A pure function of its inputs (the n-th output of SplitMix64 from `seed`), so the set of
/// failing request numbers is reproducible, and a request failing at some rate also fails at
/// every higher rate.
pub(crate) fn nth_request_fails(seed: u64, n: u64, error_rate: f64) -> bool {
    if error_rate <= 0.0 {
        return false;
    }
    if error_rate >= 1.0 {
        return true;
    }
    let draw = splitmix64(seed.wrapping_add(n.wrapping_mul(GOLDEN_GAMMA)));
    // 53 high bits give a uniform float in [0, 1).
    let unit = (draw >> 11) as f64 / (1u64 << 53) as f64;
    unit < error_rate
}

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

fn splitmix64(state: u64) -> u64 {
    let mut z = state.wrapping_add(GOLDEN_GAMMA);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;
    use proptest::prelude::*;

    fn headers(name: &'static str, value: &str) -> HeaderMap {
        let mut map = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(value) {
            map.insert(name, v);
        }
        map
    }

    #[test]
    fn abort_header_accepts_final_statuses_only() {
        assert_eq!(
            abort_status(&headers(ABORT_HEADER, "503")),
            Some(StatusCode::SERVICE_UNAVAILABLE)
        );
        assert_eq!(
            abort_status(&headers(ABORT_HEADER, " 429 ")),
            Some(StatusCode::TOO_MANY_REQUESTS)
        );
        assert_eq!(abort_status(&headers(ABORT_HEADER, "100")), None);
        assert_eq!(abort_status(&headers(ABORT_HEADER, "600")), None);
        assert_eq!(abort_status(&headers(ABORT_HEADER, "abc")), None);
        assert_eq!(abort_status(&HeaderMap::new()), None);
    }

    #[test]
    fn delay_header_is_milliseconds_and_clamped() {
        assert_eq!(
            fault_delay(&headers(DELAY_HEADER, "250")),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            fault_delay(&headers(DELAY_HEADER, "99999999999")),
            Some(MAX_FAULT_DELAY)
        );
        assert_eq!(fault_delay(&headers(DELAY_HEADER, "-5")), None);
        assert_eq!(fault_delay(&headers(DELAY_HEADER, "1.5")), None);
    }

    #[test]
    fn failure_share_follows_the_rate_for_a_fixed_seed() {
        let n = 100_000u64;
        for rate in [0.01, 0.1, 0.5, 0.9] {
            let failed = (0..n).filter(|&i| nth_request_fails(7, i, rate)).count() as f64;
            let share = failed / n as f64;
            assert!(
                (share - rate).abs() < 0.01,
                "rate {rate}: observed share {share}"
            );
        }
    }

    #[test]
    fn different_seeds_fail_different_requests() {
        let a: Vec<bool> = (0..256).map(|i| nth_request_fails(1, i, 0.5)).collect();
        let b: Vec<bool> = (0..256).map(|i| nth_request_fails(2, i, 0.5)).collect();
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn extremes_never_and_always(seed: u64, n: u64) {
            prop_assert!(!nth_request_fails(seed, n, 0.0));
            prop_assert!(nth_request_fails(seed, n, 1.0));
        }

        #[test]
        fn failing_at_a_rate_fails_at_every_higher_rate(
            seed: u64, n: u64, low in 0.0f64..1.0, extra in 0.0f64..1.0
        ) {
            let high = (low + extra).min(1.0);
            if nth_request_fails(seed, n, low) {
                prop_assert!(nth_request_fails(seed, n, high));
            }
        }

    }
}
