//! `ptl run --hdr-log`: the per-second interval log of a real run against the demo target,
//! read back with HdrHistogram's own interval log reader and checked against the result and
//! the target's own count.

use crate::support::{assert_exit, json, run, Target};
use base64::Engine as _;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Output;
use std::time::Duration;

const PLAN: &str = r#"plan "seconds" {
  param target = "http://127.0.0.1:9"
  target target
  timeout 2s
  request list weight 3 { GET "/products/1" }
  request item { GET "/products/2" }
  phase warm { rate 40/s for 1s }
  phase steady { rate 80/s for 2s }
}
"#;

/// One interval of the log: its tag, start, length and how many values it holds.
#[derive(Debug)]
pub(crate) struct Interval {
    pub tag: Option<String>,
    pub start: Duration,
    pub length: Duration,
    pub count: u64,
    /// The largest value, µs.
    pub max: u64,
}

/// Every interval of a log, read with HdrHistogram's own reader.
pub(crate) fn read_log(bytes: &[u8]) -> Vec<Interval> {
    let mut de = Deserializer::new();
    IntervalLogIterator::new(bytes)
        .filter_map(|e| match e.expect("every line parses") {
            LogEntry::Interval(i) => Some(i),
            _ => None,
        })
        .map(|i| {
            let raw = base64::engine::general_purpose::STANDARD
                .decode(i.encoded_histogram())
                .expect("base64");
            let h: Histogram<u64> = de.deserialize(&mut raw.as_slice()).expect("a histogram");
            Interval {
                tag: i.tag().map(|t| t.as_str().to_string()),
                start: i.start_timestamp(),
                length: i.duration(),
                count: h.len(),
                max: h.max(),
            }
        })
        .collect()
}

/// `ptl run` of [`PLAN`] against a new demo target with `--hdr-log` at `log` (a name in the
/// run's directory): the target, the directory, the exit and where the result goes.
fn run_logging(log: &str) -> (Target, tempfile::TempDir, Output, PathBuf, PathBuf) {
    let target = Target::start();
    let dir = tempfile::tempdir().unwrap();
    let plan = dir.path().join("plan.ptl");
    std::fs::write(&plan, PLAN).unwrap();
    let out = dir.path().join("r.json");
    let hlog = dir.path().join(log);
    let o = run(
        &plan,
        &target.url,
        &out,
        &["--hdr-log", hlog.to_str().unwrap()],
    );
    (target, dir, o, out, hlog)
}

#[test]
fn the_hdr_log_has_an_interval_per_second_per_phase_and_request() {
    let (target, _dir, o, out, hlog) = run_logging("r.hlog");
    assert_exit(&o, 0);
    let r = json(&out);
    let log = std::fs::read(&hlog).expect("log written");
    let text = String::from_utf8_lossy(&log);
    let intervals = read_log(&log);

    // Untagged: the whole run, one interval a second, in order, 1 s long (the last may be
    // shorter: it ends when the last request does).
    let untagged: Vec<&Interval> = intervals.iter().filter(|i| i.tag.is_none()).collect();
    assert!((3..=4).contains(&untagged.len()), "{text}");
    for (k, i) in untagged.iter().enumerate() {
        assert_eq!(i.start, Duration::from_secs(k as u64), "{text}");
        if k + 1 < untagged.len() {
            assert_eq!(i.length, Duration::from_secs(1), "{text}");
        } else {
            assert!(i.length <= Duration::from_secs(1), "{text}");
        }
    }
    // Every tagged interval shares its second's start and length with an untagged one.
    for i in &intervals {
        assert!(
            untagged
                .iter()
                .any(|u| u.start == i.start && u.length == i.length),
            "{text}"
        );
    }
    let sum = |tag: &str| -> u64 {
        intervals
            .iter()
            .filter(|i| i.tag.as_deref() == Some(tag))
            .map(|i| i.count)
            .sum()
    };
    let total: u64 = untagged.iter().map(|i| i.count).sum();
    assert_eq!(total, target.requests(), "the target's own count");

    let mut per_phase = BTreeMap::new();
    for phase in r["phases"].as_array().expect("phases") {
        let name = phase["name"].as_str().expect("a name");
        let count = phase["request_count"].as_u64().expect("a count");
        assert_eq!(phase["errors"].as_u64(), Some(0), "{phase}");
        assert_eq!(sum(&format!("phase={name}")), count, "{name}: {text}");
        for request in phase["requests"].as_array().expect("requests") {
            let req = request["name"].as_str().expect("a name");
            let n = request["requests"].as_u64().expect("a count");
            assert!(n > 0, "{request}");
            assert_eq!(sum(&format!("{name}/{req}")), n, "{name}/{req}: {text}");
        }
        per_phase.insert(name.to_string(), count);
    }
    assert_eq!(per_phase.values().sum::<u64>(), total);
    assert_eq!(per_phase.get("warm"), Some(&40));
    assert_eq!(per_phase.get("steady"), Some(&160));
}

#[test]
fn an_hdr_log_that_cannot_be_written_is_a_usage_error_before_anything_is_sent() {
    let (target, _dir, o, _out, _hlog) = run_logging("missing-dir/r.hlog");
    assert_exit(&o, 2);
    assert!(
        crate::support::stderr(&o).contains("cannot write"),
        "{}",
        crate::support::stderr(&o)
    );
    assert_eq!(target.requests(), 0);
}
