//! Interval deltas on the wire: what an agent recorded in one window, with every histogram
//! serialised by HdrHistogram's V2 deflate serializer (base64 in a small JSON envelope), so that
//! a coordinator can merge agents exactly — counts and histogram buckets add, nothing is
//! averaged. Only non-empty entries travel.

use super::classes::{ErrorClass, FaultKind};
use super::recorder::{
    add_histogram, GeneratorCounts, Hist, Latencies, PhaseCounts, Recorded, RequestStats,
    ScenarioStats,
};
use crate::error::RuntimeError;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Format version of the envelope.
const VERSION: u32 = 1;
/// Decoding refuses shapes larger than this many phase × request cells: a corrupt or hostile
/// delta must not make the receiver allocate without bound.
const MAX_CELLS: usize = 1 << 20;

/// What one agent recorded during one window of the run.
#[derive(Debug, Clone)]
pub struct IntervalDelta {
    /// The agent's index in the run.
    pub agent: u32,
    /// Window number: second `window` of the run (the final flush uses the last window).
    pub window: u64,
    pub recorded: Recorded,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    version: u32,
    agent: u32,
    window: u64,
    phases: usize,
    requests: usize,
    scenarios: usize,
    phase: Vec<(u32, u64, u64, u64)>,
    /// (phase, arrivals sent after its end); added after version 1's first form, so absent
    /// means none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    phase_sent_after_end: Vec<(u32, u64)>,
    /// (phase, iterations a `unique` feeder had no row for); absent means none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    phase_exhausted: Vec<(u32, u64)>,
    request: Vec<WireRequest>,
    scenario: Vec<WireScenario>,
    /// (CPU used, CPU available) µs, where measured; absent means not measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    generator: Option<(u64, u64)>,
}

#[derive(Serialize, Deserialize)]
struct WireRequest {
    cell: u32,
    completed: u64,
    errors: Vec<u64>,
    dropped: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    sent_after_end: u64,
    skipped: u64,
    injected: Vec<u64>,
    statuses: Vec<(u16, u64)>,
    /// response, service, lag.
    latency: Option<[String; 3]>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pool_waits: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pool_wait_us: u64,
}

#[derive(Serialize, Deserialize)]
struct WireScenario {
    cell: u32,
    iterations: u64,
    completed: u64,
    failed: u64,
    dropped: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    sent_after_end: u64,
    iteration_time: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn bad(reason: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Delta(reason.to_string())
}

fn encode_hist(
    ser: &mut V2DeflateSerializer,
    h: &Hist,
    buf: &mut Vec<u8>,
) -> Result<String, RuntimeError> {
    buf.clear();
    ser.serialize(h, buf)
        .map_err(|e| bad(format!("serialising a histogram: {e:?}")))?;
    Ok(BASE64.encode(buf))
}

fn decode_hist(de: &mut Deserializer, text: &str) -> Result<Hist, RuntimeError> {
    let bytes = BASE64.decode(text).map_err(bad)?;
    let decoded: Hist = de
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| bad(format!("decoding a histogram: {e:?}")))?;
    // Re-home the counts in an auto-resizing histogram so later merges never run out of range.
    let mut h = super::recorder::new_histogram();
    add_histogram(&mut h, &decoded);
    Ok(h)
}

/// Serialises a delta for shipping.
pub fn encode_delta(delta: &IntervalDelta) -> Result<Vec<u8>, RuntimeError> {
    let r = &delta.recorded;
    let (phases, requests, scenarios) = r.dims();
    let mut ser = V2DeflateSerializer::new();
    let mut buf = Vec::new();
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
                encode_hist(&mut ser, &l.response, &mut buf)?,
                encode_hist(&mut ser, &l.service, &mut buf)?,
                encode_hist(&mut ser, &l.lag, &mut buf)?,
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
            Some(h) => Some(encode_hist(&mut ser, h, &mut buf)?),
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
    serde_json::to_vec(&wire).map_err(bad)
}

fn counters<const N: usize>(v: &[u64], what: &str) -> Result<[u64; N], RuntimeError> {
    v.try_into()
        .map_err(|_| bad(format!("{what}: expected {N} counters, got {}", v.len())))
}

/// Decodes a delta produced by [`encode_delta`]. Malformed input is an error, never a panic.
pub fn decode_delta(bytes: &[u8]) -> Result<IntervalDelta, RuntimeError> {
    let wire: Wire = serde_json::from_slice(bytes).map_err(bad)?;
    if wire.version != VERSION {
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
                response: decode_hist(&mut de, &response)?,
                service: decode_hist(&mut de, &service)?,
                lag: decode_hist(&mut de, &lag)?,
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
            Some(text) => Some(Box::new(decode_hist(&mut de, &text)?)),
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

    #[test]
    fn malformed_deltas_are_errors() {
        assert!(decode_delta(b"").is_err());
        assert!(decode_delta(b"{\"version\":1}").is_err());
        let mut ok = encode_delta(&IntervalDelta {
            agent: 0,
            window: 0,
            recorded: sample(&[(10, true)]),
        })
        .expect("encodes");
        let text = String::from_utf8(ok.clone()).expect("json");
        let huge = text.replacen("\"phases\":2", "\"phases\":99999999999", 1);
        assert!(decode_delta(huge.as_bytes()).is_err());
        ok.truncate(ok.len() / 2);
        assert!(decode_delta(&ok).is_err());
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

        // A delta from an agent that knows nothing of late sends decodes with none.
        let on_time = encode_delta(&IntervalDelta {
            agent: 0,
            window: 0,
            recorded: sample(&[(10, true)]),
        })
        .expect("encodes");
        let text = String::from_utf8(on_time).expect("json");
        assert!(!text.contains("sent_after_end"));
        let back = decode_delta(text.as_bytes()).expect("decodes").recorded;
        assert_eq!(back.phase[0].sent_after_end, 0);
        assert_eq!(back.phase[0].started, 1);
    }

    proptest! {
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
