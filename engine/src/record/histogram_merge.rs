//! Interval deltas on the wire: what an agent recorded in one window, so that a coordinator can
//! merge agents exactly — counts and histogram buckets add, nothing is averaged. Only non-empty
//! entries travel.
//!
//! Format 2 (written since issue 14) is `MAGIC`, then one deflate stream of a postcard body whose
//! histograms are HdrHistogram V2 bytes: compressing the whole delta once, rather than each
//! histogram apart and then base64 in JSON as format 1 did, is what halves a delta at a
//! thousand requests a second (docs/scale.md). Format 1 is still read: merged records of older
//! runs stay in ZooKeeper, and an older agent may report to a newer coordinator.

use std::io::{Read, Write};

use super::classes::{ErrorClass, FaultKind};
use super::recorder::{
    add_histogram, GeneratorCounts, Hist, Latencies, PhaseCounts, Recorded, RequestStats,
    ScenarioStats,
};
use crate::error::RuntimeError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2Serializer};
use serde::{Deserialize, Serialize};

/// The first bytes of a format-2 delta. No JSON text starts with them.
pub const MAGIC: &[u8; 4] = b"PTLd";
/// The format written; the body repeats it, so a future format can change what follows.
const VERSION: u32 = 2;
/// The JSON format: decoded, never written.
const JSON_VERSION: u32 = 1;
/// Decoding refuses shapes larger than this many phase × request cells: a corrupt or hostile
/// delta must not make the receiver allocate without bound.
const MAX_CELLS: usize = 1 << 20;
/// Nor may a small hostile delta inflate without bound: a real one, even of many cells, is a few
/// hundred kilobytes at most.
const MAX_INFLATED: u64 = 64 << 20;

/// What one agent recorded during one window of the run.
#[derive(Debug, Clone)]
pub struct IntervalDelta {
    /// The agent's index in the run.
    pub agent: u32,
    /// Window number: second `window` of the run (the final flush uses the last window).
    pub window: u64,
    pub recorded: Recorded,
}

/// Both formats' body; `H` is how a histogram travels: V2 bytes in format 2, base64 of V2 with
/// deflate in format 1. Fields format 1 added after its first form are `default`, so absent
/// means none; format 2 always carries them (postcard has no absent fields).
#[derive(Serialize, Deserialize)]
struct Wire<H> {
    version: u32,
    agent: u32,
    window: u64,
    phases: usize,
    requests: usize,
    scenarios: usize,
    phase: Vec<(u32, u64, u64, u64)>,
    /// (phase, arrivals sent after its end).
    #[serde(default)]
    phase_sent_after_end: Vec<(u32, u64)>,
    /// (phase, iterations a `unique` feeder had no row for).
    #[serde(default)]
    phase_exhausted: Vec<(u32, u64)>,
    request: Vec<WireRequest<H>>,
    scenario: Vec<WireScenario<H>>,
    /// (CPU used, CPU available) µs, where measured.
    #[serde(default)]
    generator: Option<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
struct WireRequest<H> {
    cell: u32,
    completed: u64,
    errors: Vec<u64>,
    dropped: u64,
    #[serde(default)]
    sent_after_end: u64,
    skipped: u64,
    injected: Vec<u64>,
    statuses: Vec<(u16, u64)>,
    /// response, service, lag.
    latency: Option<[H; 3]>,
    #[serde(default)]
    pool_waits: u64,
    #[serde(default)]
    pool_wait_us: u64,
}

#[derive(Serialize, Deserialize)]
struct WireScenario<H> {
    cell: u32,
    iterations: u64,
    completed: u64,
    failed: u64,
    dropped: u64,
    #[serde(default)]
    sent_after_end: u64,
    iteration_time: Option<H>,
}

fn bad(reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Delta(reason.to_string())
}

/// A histogram as one of the formats carries it.
trait WireHist {
    fn to_hist(&self, de: &mut Deserializer) -> Result<Hist, RuntimeError>;
}

/// Format 2: V2 bytes, compressed with the rest of the delta.
impl WireHist for Vec<u8> {
    fn to_hist(&self, de: &mut Deserializer) -> Result<Hist, RuntimeError> {
        rehome(de, self)
    }
}

/// Format 1: base64 of V2 with deflate (the deserializer takes either V2 cookie).
impl WireHist for String {
    fn to_hist(&self, de: &mut Deserializer) -> Result<Hist, RuntimeError> {
        rehome(de, &BASE64.decode(self).map_err(bad)?)
    }
}

fn rehome(de: &mut Deserializer, mut bytes: &[u8]) -> Result<Hist, RuntimeError> {
    let decoded: Hist = de
        .deserialize(&mut bytes)
        .map_err(|e| bad(format!("decoding a histogram: {e:?}")))?;
    // Re-home the counts in an auto-resizing histogram so later merges never run out of range.
    let mut h = super::recorder::new_histogram();
    add_histogram(&mut h, &decoded);
    Ok(h)
}

fn encode_hist(ser: &mut V2Serializer, h: &Hist) -> Result<Vec<u8>, RuntimeError> {
    let mut buf = Vec::new();
    ser.serialize(h, &mut buf)
        .map_err(|e| bad(format!("serialising a histogram: {e:?}")))?;
    Ok(buf)
}

/// Serialises a delta for shipping (format 2).
pub fn encode_delta(delta: &IntervalDelta) -> Result<Vec<u8>, RuntimeError> {
    let r = &delta.recorded;
    let (phases, requests, scenarios) = r.dims();
    let mut ser = V2Serializer::new();
    let phase = r
        .phase
        .iter()
        .enumerate()
        .filter(|(_, p)| **p != PhaseCounts::default())
        .map(|(i, p)| (i as u32, p.planned, p.started, p.dropped))
        .collect();
    let phase_sent_after_end = r
        .phase
        .iter()
        .enumerate()
        .filter(|(_, p)| p.sent_after_end > 0)
        .map(|(i, p)| (i as u32, p.sent_after_end))
        .collect();
    let phase_exhausted = r
        .phase
        .iter()
        .enumerate()
        .filter(|(_, p)| p.exhausted > 0)
        .map(|(i, p)| (i as u32, p.exhausted))
        .collect();
    let mut request = Vec::new();
    for (cell, s) in r.request.iter().enumerate() {
        if s.is_empty() && s.latency.is_none() && s.pool_waits == 0 {
            continue;
        }
        let latency = match &s.latency {
            Some(l) => Some([
                encode_hist(&mut ser, &l.response)?,
                encode_hist(&mut ser, &l.service)?,
                encode_hist(&mut ser, &l.lag)?,
            ]),
            None => None,
        };
        request.push(WireRequest {
            cell: cell as u32,
            completed: s.completed,
            errors: s.errors.to_vec(),
            dropped: s.dropped,
            sent_after_end: s.sent_after_end,
            skipped: s.skipped,
            injected: s.injected.to_vec(),
            statuses: s.statuses.clone(),
            latency,
            pool_waits: s.pool_waits,
            pool_wait_us: s.pool_wait_us,
        });
    }
    let mut scenario = Vec::new();
    for (cell, s) in r.scenario.iter().enumerate() {
        if s.iterations == 0 && s.dropped == 0 && s.iteration_time.is_none() {
            continue;
        }
        let iteration_time = match &s.iteration_time {
            Some(h) => Some(encode_hist(&mut ser, h)?),
            None => None,
        };
        scenario.push(WireScenario {
            cell: cell as u32,
            iterations: s.iterations,
            completed: s.completed,
            failed: s.failed,
            dropped: s.dropped,
            sent_after_end: s.sent_after_end,
            iteration_time,
        });
    }
    let wire = Wire {
        version: VERSION,
        agent: delta.agent,
        window: delta.window,
        phases,
        requests,
        scenarios,
        phase,
        phase_sent_after_end,
        phase_exhausted,
        request,
        scenario,
        generator: (r.generator != GeneratorCounts::default())
            .then_some((r.generator.cpu_us, r.generator.cores_us)),
    };
    let body = postcard::to_allocvec(&wire).map_err(bad)?;
    let mut out =
        flate2::write::DeflateEncoder::new(MAGIC.to_vec(), flate2::Compression::default());
    out.write_all(&body).map_err(bad)?;
    out.finish().map_err(bad)
}

fn counters<const N: usize>(v: &[u64], what: &str) -> Result<[u64; N], RuntimeError> {
    v.try_into()
        .map_err(|_| bad(format!("{what}: expected {N} counters, got {}", v.len())))
}

/// Decodes a delta of either format. Malformed input is an error, never a panic.
pub fn decode_delta(bytes: &[u8]) -> Result<IntervalDelta, RuntimeError> {
    match bytes.strip_prefix(MAGIC) {
        Some(compressed) => {
            let mut body = Vec::new();
            flate2::read::DeflateDecoder::new(compressed)
                .take(MAX_INFLATED + 1)
                .read_to_end(&mut body)
                .map_err(|e| bad(format!("inflating a delta: {e}")))?;
            if body.len() as u64 > MAX_INFLATED {
                return Err(bad("delta inflates beyond its limit"));
            }
            let wire: Wire<Vec<u8>> = postcard::from_bytes(&body).map_err(bad)?;
            from_wire(wire, VERSION)
        }
        None => {
            let wire: Wire<String> = serde_json::from_slice(bytes).map_err(bad)?;
            from_wire(wire, JSON_VERSION)
        }
    }
}

fn from_wire<H: WireHist>(wire: Wire<H>, version: u32) -> Result<IntervalDelta, RuntimeError> {
    if wire.version != version {
        return Err(bad(format!("unsupported delta version {}", wire.version)));
    }
    let request_cells = wire.phases.checked_mul(wire.requests);
    let scenario_cells = wire.phases.checked_mul(wire.scenarios);
    match (request_cells, scenario_cells) {
        (Some(r), Some(s)) if r <= MAX_CELLS && s <= MAX_CELLS && wire.phases <= MAX_CELLS => {}
        _ => return Err(bad("delta shape is too large")),
    }
    let mut recorded = Recorded::new(wire.phases, wire.requests, wire.scenarios);
    if let Some((cpu_us, cores_us)) = wire.generator {
        recorded.generator = GeneratorCounts { cpu_us, cores_us };
    }
    let mut de = Deserializer::new();
    for (i, planned, started, dropped) in wire.phase {
        let p = recorded
            .phase
            .get_mut(i as usize)
            .ok_or_else(|| bad(format!("phase {i} out of range")))?;
        *p = PhaseCounts {
            planned,
            started,
            dropped,
            sent_after_end: 0,
            exhausted: 0,
        };
    }
    for (i, exhausted) in wire.phase_exhausted {
        recorded
            .phase
            .get_mut(i as usize)
            .ok_or_else(|| bad(format!("phase {i} out of range")))?
            .exhausted = exhausted;
    }
    for (i, late) in wire.phase_sent_after_end {
        recorded
            .phase
            .get_mut(i as usize)
            .ok_or_else(|| bad(format!("phase {i} out of range")))?
            .sent_after_end = late;
    }
    for w in wire.request {
        let latency = match w.latency {
            Some([response, service, lag]) => Some(Box::new(Latencies {
                response: response.to_hist(&mut de)?,
                service: service.to_hist(&mut de)?,
                lag: lag.to_hist(&mut de)?,
            })),
            None => None,
        };
        let stats = RequestStats {
            completed: w.completed,
            errors: counters::<{ ErrorClass::COUNT }>(&w.errors, "errors")?,
            dropped: w.dropped,
            sent_after_end: w.sent_after_end,
            skipped: w.skipped,
            injected: counters::<{ FaultKind::COUNT }>(&w.injected, "injected")?,
            statuses: w.statuses,
            latency,
            pool_waits: w.pool_waits,
            pool_wait_us: w.pool_wait_us,
        };
        let cell = w.cell as usize;
        let slot = recorded
            .request
            .get_mut(cell)
            .ok_or_else(|| bad(format!("request cell {cell} out of range")))?;
        *slot = stats;
    }
    for w in wire.scenario {
        let iteration_time = match w.iteration_time {
            Some(h) => Some(Box::new(h.to_hist(&mut de)?)),
            None => None,
        };
        let cell = w.cell as usize;
        let slot = recorded
            .scenario
            .get_mut(cell)
            .ok_or_else(|| bad(format!("scenario cell {cell} out of range")))?;
        *slot = ScenarioStats {
            iterations: w.iterations,
            completed: w.completed,
            failed: w.failed,
            dropped: w.dropped,
            sent_after_end: w.sent_after_end,
            iteration_time,
        };
    }
    Ok(IntervalDelta {
        agent: wire.agent,
        window: wire.window,
        recorded,
    })
}

/// Merges a decoded delta into a cumulative record of the same shape.
pub fn merge_delta(into: &mut Recorded, delta: &IntervalDelta) -> Result<(), RuntimeError> {
    if into.dims() != delta.recorded.dims() {
        return Err(bad(format!(
            "delta shape {:?} does not match {:?}",
            delta.recorded.dims(),
            into.dims()
        )));
    }
    into.merge(&delta.recorded);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::recorder::{Outcome, Timing};
    use proptest::prelude::*;

    fn sample(values: &[(u64, bool)]) -> Recorded {
        let mut r = Recorded::new(2, 2, 1);
        for (i, &(us, ok)) in values.iter().enumerate() {
            let outcome = if ok {
                Outcome::Success { status: 200 }
            } else {
                Outcome::Failed {
                    class: ErrorClass::Status,
                    status: Some(503),
                }
            };
            let t = Timing {
                response_us: us,
                service_us: us / 3,
                lag_us: us % 1000,
            };
            r.exchange(i % 2, (i / 2) % 2, Some(t), outcome);
            r.planned(i % 2, 1);
            r.started(i % 2);
            r.iteration_started(i % 2, 0);
            r.iteration_ended(i % 2, 0, ok, us * 2);
            if us % 4 == 0 {
                r.request_after_end(i % 2, (i / 2) % 2);
                r.arrival_after_end(i % 2, 0);
            }
            if us % 3 == 0 {
                r.pool_wait(i % 2, (i / 2) % 2, us / 7);
            }
            if us % 5 == 0 {
                r.exhausted(i % 2);
            }
        }
        r.dropped(1, 0, Some(1));
        r.generator = GeneratorCounts {
            cpu_us: values.len() as u64 * 17,
            cores_us: 2_000_000,
        };
        r
    }

    /// A format-1 delta as the encoder before issue 14 wrote it, of
    /// `sample(&FIXTURE_VALUES)` as agent 4's window 7.
    const DELTA_V1: &[u8] = include_bytes!("fixtures/delta_v1.json");
    const FIXTURE_VALUES: [(u64, bool); 5] = [
        (8, true),
        (10, false),
        (12, true),
        (15, true),
        (2_000_003, true),
    ];

    fn encoded(recorded: Recorded) -> Vec<u8> {
        encode_delta(&IntervalDelta {
            agent: 4,
            window: 7,
            recorded,
        })
        .expect("encodes")
    }

    /// Everything a delta carries, comparable.
    fn fingerprint(d: &IntervalDelta) -> String {
        format!("{} {} {:?}", d.agent, d.window, d.recorded)
    }

    #[test]
    fn format_1_deltas_decode_as_they_were_written() {
        let old = decode_delta(DELTA_V1).expect("format 1 decodes");
        let new = decode_delta(&encoded(sample(&FIXTURE_VALUES))).expect("format 2 decodes");
        assert_eq!(fingerprint(&old), fingerprint(&new));
        assert!(new.recorded.request[0].latency.is_some());
    }

    #[test]
    fn malformed_deltas_are_errors() {
        assert!(decode_delta(b"").is_err());
        assert!(decode_delta(b"{\"version\":1}").is_err());
        let text = std::str::from_utf8(DELTA_V1).expect("json");
        let huge = text.replacen("\"phases\":2", "\"phases\":99999999999", 1);
        assert!(decode_delta(huge.as_bytes()).is_err());
        assert!(decode_delta(&DELTA_V1[..DELTA_V1.len() / 2]).is_err());

        let ok = encoded(sample(&[(10, true)]));
        assert!(decode_delta(&ok[..ok.len() / 2]).is_err(), "truncated");
        assert!(decode_delta(MAGIC).is_err(), "no body");
        let mut garbage = MAGIC.to_vec();
        garbage.extend_from_slice(b"not deflate at all");
        assert!(decode_delta(&garbage).is_err());
        // A valid deflate stream of a body that is not a delta.
        let mut z = flate2::write::DeflateEncoder::new(MAGIC.to_vec(), flate2::Compression::fast());
        z.write_all(&[0xff; 64]).expect("in memory");
        assert!(decode_delta(&z.finish().expect("in memory")).is_err());
    }

    #[test]
    fn a_delta_that_inflates_beyond_the_limit_is_refused_unread() {
        // 65 MiB of zeros deflate to ~65 kB: a hostile agent's bomb.
        let mut z = flate2::write::DeflateEncoder::new(MAGIC.to_vec(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..65 {
            z.write_all(&zeros).expect("in memory");
        }
        let bomb = z.finish().expect("in memory");
        assert!(bomb.len() < 1 << 20);
        let err = decode_delta(&bomb).expect_err("refused").to_string();
        assert!(err.contains("beyond its limit"), "{err}");
    }

    #[test]
    fn a_shape_too_large_is_refused_in_format_2_too() {
        let mut wire: Wire<Vec<u8>> = Wire {
            version: VERSION,
            agent: 0,
            window: 0,
            phases: 1 << 21,
            requests: 1 << 21,
            scenarios: 1,
            phase: Vec::new(),
            phase_sent_after_end: Vec::new(),
            phase_exhausted: Vec::new(),
            request: Vec::new(),
            scenario: Vec::new(),
            generator: None,
        };
        let frame = |wire: &Wire<Vec<u8>>| {
            let mut z =
                flate2::write::DeflateEncoder::new(MAGIC.to_vec(), flate2::Compression::fast());
            z.write_all(&postcard::to_allocvec(wire).expect("in memory"))
                .expect("in memory");
            z.finish().expect("in memory")
        };
        assert!(decode_delta(&frame(&wire)).is_err());
        wire.phases = 1;
        wire.requests = 1;
        assert!(decode_delta(&frame(&wire)).is_ok());
        wire.version = 3;
        let err = decode_delta(&frame(&wire))
            .expect_err("unknown version")
            .to_string();
        assert!(err.contains("unsupported delta version 3"), "{err}");
    }

    #[test]
    fn late_counts_travel_and_are_optional() {
        // 8 µs is late in `sample` (a multiple of 4), 10 µs is not.
        let late = sample(&[(8, true), (10, true), (12, true)]);
        let bytes = encode_delta(&IntervalDelta {
            agent: 0,
            window: 0,
            recorded: late.clone(),
        })
        .expect("encodes");
        let back = decode_delta(&bytes).expect("decodes").recorded;
        assert_eq!(back.phase, late.phase);
        assert_eq!(back.phase[0].sent_after_end, 2);
        assert_eq!(back.scenario[0].sent_after_end, 2);
        // Arrivals 0 and 2 of phase 0 went to its requests 0 and 1.
        assert_eq!(
            (
                back.request[0].sent_after_end,
                back.request[1].sent_after_end
            ),
            (1, 1)
        );

        // A format-1 delta from an agent that knew nothing of late sends, pool waits, exhausted
        // feeders or CPU decodes with none of them.
        let mut old: serde_json::Value = serde_json::from_slice(DELTA_V1).expect("json");
        let top = old.as_object_mut().expect("object");
        for key in ["phase_sent_after_end", "phase_exhausted", "generator"] {
            top.remove(key);
        }
        for list in ["request", "scenario"] {
            for cell in top[list].as_array_mut().expect("cells") {
                let cell = cell.as_object_mut().expect("cell");
                for key in ["sent_after_end", "pool_waits", "pool_wait_us"] {
                    cell.remove(key);
                }
            }
        }
        let text = serde_json::to_vec(&old).expect("json");
        let back = decode_delta(&text).expect("decodes").recorded;
        assert_eq!(back.phase[0].sent_after_end, 0);
        assert_eq!(back.phase[1].exhausted, 0);
        assert_eq!(back.request[0].sent_after_end, 0);
        assert_eq!(back.request[0].pool_waits, 0);
        assert_eq!(back.generator, GeneratorCounts::default());
        assert_eq!(back.phase[0].started, 3);
    }

    proptest! {
        /// What the fuzz target `delta` checks at length, in every test run: arbitrary bytes,
        /// raw or framed as format 2, are an error or a delta, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = decode_delta(&body);
            let mut z = flate2::write::DeflateEncoder::new(MAGIC.to_vec(), flate2::Compression::fast());
            z.write_all(&body).expect("in memory");
            let _ = decode_delta(&z.finish().expect("in memory"));
        }

        #[test]
        fn shipped_deltas_merge_exactly(a in proptest::collection::vec((1u64..10_000_000, any::<bool>()), 0..60),
                                        b in proptest::collection::vec((1u64..10_000_000, any::<bool>()), 0..60)) {
            let (ra, rb) = (sample(&a), sample(&b));
            let mut direct = ra.clone();
            direct.merge(&rb);
            let mut shipped = Recorded::new(2, 2, 1);
            for (agent, r) in [(0u32, ra), (1u32, rb)] {
                let bytes = encode_delta(&IntervalDelta { agent, window: 3, recorded: r }).expect("encodes");
                let back = decode_delta(&bytes).expect("decodes");
                prop_assert_eq!(back.agent, agent);
                prop_assert_eq!(back.window, 3);
                merge_delta(&mut shipped, &back).expect("same shape");
            }
            prop_assert_eq!(&direct.phase, &shipped.phase);
            prop_assert_eq!(direct.generator, shipped.generator);
            for (x, y) in direct.request.iter().zip(&shipped.request) {
                prop_assert_eq!(x.completed, y.completed);
                prop_assert_eq!(x.errors, y.errors);
                prop_assert_eq!(x.dropped, y.dropped);
                prop_assert_eq!(x.sent_after_end, y.sent_after_end);
                prop_assert_eq!((x.pool_waits, x.pool_wait_us), (y.pool_waits, y.pool_wait_us));
                prop_assert_eq!(&x.statuses, &y.statuses);
                match (&x.latency, &y.latency) {
                    (None, None) => {}
                    (Some(p), Some(q)) => {
                        prop_assert_eq!(&p.response, &q.response);
                        prop_assert_eq!(&p.service, &q.service);
                        prop_assert_eq!(&p.lag, &q.lag);
                    }
                    _ => prop_assert!(false, "histograms lost in transit"),
                }
            }
            for (x, y) in direct.scenario.iter().zip(&shipped.scenario) {
                prop_assert_eq!((x.iterations, x.completed, x.failed, x.dropped, x.sent_after_end), (y.iterations, y.completed, y.failed, y.dropped, y.sent_after_end));
                match (&x.iteration_time, &y.iteration_time) {
                    (None, None) => {}
                    (Some(p), Some(q)) => prop_assert_eq!(p, q),
                    _ => prop_assert!(false, "iteration histogram lost in transit"),
                }
            }
        }
    }
}
