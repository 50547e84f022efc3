//! The two outcomes the protocol tests (HTTPS, HTTP/2) check a phase for: every planned request
//! sent and answered 200, or every one failed with the same error class.

use ptl_engine::result::PhaseResult;
use std::ops::RangeInclusive;

/// `ph` planned a count within `planned`, sent exactly that many, and every one was answered
/// 200 with no error.
#[track_caller]
pub fn assert_all_ok(ph: &PhaseResult, planned: RangeInclusive<u64>) {
    assert!(planned.contains(&ph.planned), "planned {}", ph.planned);
    assert_eq!(ph.request_count, ph.planned);
    assert_eq!(ph.errors, 0, "{:?}", ph.errors_by_class);
    assert_eq!(
        ph.requests[0].status_codes.get("200"),
        Some(&ph.request_count)
    );
}

/// `ph` planned a count within `planned`, sent exactly that many (the run went on to its end),
/// and every one was an error of `class`.
#[track_caller]
pub fn assert_all_failed(ph: &PhaseResult, planned: RangeInclusive<u64>, class: &str) {
    assert!(planned.contains(&ph.planned), "planned {}", ph.planned);
    assert_eq!(ph.request_count, ph.planned);
    assert_eq!(ph.errors, ph.planned, "{:?}", ph.errors_by_class);
    assert_eq!(
        ph.errors_by_class.get(class),
        Some(&ph.planned),
        "{:?}",
        ph.errors_by_class
    );
}
