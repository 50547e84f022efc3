//! `--hdr-log`: the interval log of a real run against a real server on 127.0.0.1.

use ptl_engine::{run_blocking, RunOptions};
use ptl_test_support::counting_server::server;
use ptl_test_support::plans::{plan, rate};
use std::time::Duration;

fn opts() -> RunOptions {
    RunOptions {
        workers: Some(2),
        ..RunOptions::default()
    }
}

#[test]
fn the_hdr_log_holds_one_interval_per_phase_and_request() {
    let srv = server();
    let out = run_blocking(
        &plan(
            &srv.url(),
            vec![rate("a", 100.0, 1.0), rate("b", 100.0, 1.0)],
        ),
        opts(),
    )
    .expect("runs");
    let mut log = Vec::new();
    ptl_report::hdr_log::write(&out, &mut log).expect("writes");
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
    let intervals: Vec<_> = IntervalLogIterator::new(&log)
        .filter_map(|e| match e {
            Ok(LogEntry::Interval(h)) => {
                Some((h.tag().map(|t| t.as_str().to_string()), h.start_timestamp()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(intervals.len(), 4, "{}", String::from_utf8_lossy(&log));
    assert_eq!(intervals[0].0, None);
    assert_eq!(intervals[1].0.as_deref(), Some("a/hit"));
    assert_eq!(intervals[2].1, Duration::from_secs(1));
}
