use super::*;
use std::sync::Mutex;

/// A `Write` the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn entry(at: Instant, n: u64) -> Entry {
    Entry {
        phase: 0,
        request: 0,
        intended: at + std::time::Duration::from_micros(n * 1000),
        sent: Some(at + std::time::Duration::from_micros(n * 1000 + 10)),
        done: at + std::time::Duration::from_micros(n * 1000 + 510),
        line: (*b"GET /items/7?q=1").into(),
        request_bytes: 40,
        response_bytes: Some(12),
        outcome: Outcome::Success { status: 200 },
    }
}

fn layout_start(sink: &LogSink, at: Instant) {
    let _ = sink.tx.send(Message::Start {
        at,
        wall: SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000),
        phases: vec!["load".into()],
        requests: vec!["get".into()],
    });
}

fn lines(out: &Shared) -> Vec<serde_json::Value> {
    String::from_utf8(out.0.lock().unwrap().clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

#[test]
fn a_log_is_a_header_one_line_per_request_and_a_trailer() {
    let out = Shared::default();
    let log = RequestLog::start(Box::new(out.clone()), Sample::ALL).unwrap();
    let at = Instant::now();
    layout_start(&log.sink(), at);
    let w = log.sink().for_worker(0);
    for n in 0..3 {
        assert!(w.sampled());
        w.send(entry(at, n));
    }
    let stats = log.finish();
    assert_eq!((stats.written, stats.dropped, stats.sampled_out), (3, 0, 0));
    let l = lines(&out);
    assert_eq!(l.len(), 5);
    assert_eq!(l[0]["ptl_request_log"], 1);
    assert_eq!(l[0]["started_at_unix_us"], 1_700_000_000_000_000u64);
    assert_eq!(l[2]["intended_us"], 1000);
    assert_eq!(l[2]["sent_us"], 1010);
    assert_eq!(l[2]["latency_us"], 510);
    assert_eq!(l[2]["service_us"], 500);
    assert_eq!(l[2]["method"], "GET");
    assert_eq!(l[2]["path"], "/items/7?q=1");
    assert_eq!(l[2]["name"], "get");
    assert_eq!(l[2]["status"], 200);
    assert_eq!(l[4]["ptl_request_log_end"]["lines"], 3);
}

/// A writer that never takes a byte until told: the channel fills and lines are dropped.
struct Stuck(Arc<std::sync::Barrier>);

impl Write for Stuck {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.wait();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn lines_the_writer_cannot_take_are_counted_as_dropped_never_lost_silently() {
    let gate = Arc::new(std::sync::Barrier::new(2));
    // A one-byte buffer would still buffer: the writer blocks on its first real write.
    let log = RequestLog::start(Box::new(Stuck(gate.clone())), Sample::ALL).unwrap();
    let at = Instant::now();
    layout_start(&log.sink(), at);
    let w = log.sink().for_worker(0);
    let sent = CHANNEL as u64 * 8;
    for n in 0..sent {
        w.send(entry(at, n));
    }
    // Let every write go from now on.
    let opener = std::thread::spawn(move || loop {
        gate.wait();
    });
    let stats = log.finish();
    drop(opener);
    assert!(stats.dropped > 0, "{stats:?}");
    assert_eq!(stats.written + stats.dropped, sent, "{stats:?}");
}

#[test]
fn a_sample_keeps_about_its_share() {
    let log = RequestLog::start(Box::new(std::io::sink()), "1/10".parse().unwrap()).unwrap();
    let w = log.sink().for_worker(3);
    let kept = (0..100_000).filter(|_| w.sampled()).count();
    // Binomial(100000, 0.1): sd ≈ 95; 10 sd either way.
    assert!((9_050..=10_950).contains(&kept), "{kept}");
    let stats = log.finish();
    assert_eq!(stats.sampled_out, 100_000 - kept as u64);
}

#[test]
fn samples_parse_as_one_in_n_fractions_and_percentages() {
    let f = |s: &str| s.parse::<Sample>().map(Sample::fraction);
    assert_eq!(f("1/4"), Ok(0.25));
    assert_eq!(f("0.5"), Ok(0.5));
    assert_eq!(f("10%"), Ok(0.1));
    assert_eq!(f("1"), Ok(1.0));
    for bad in ["0", "1/0", "2", "-0.1", "x", "150%", "NaN"] {
        assert!(bad.parse::<Sample>().is_err(), "{bad}");
    }
}
