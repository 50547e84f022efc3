//! Client-side failure injection. Each request of a phase with `inject` lines carries at most
//! one fault, drawn with the listed shares (mutually exclusive, in plan order):
//! abort = send, then close the connection without reading the answer; delay = stall before
//! sending; reset = send, then close with a TCP RST; corrupt = the body replaced by malformed
//! bytes; header = one extra header. Injected requests are counted by fault kind, apart from
//! organic errors and latencies.

use crate::error::RuntimeError;
use crate::record::FaultKind;
use bytes::Bytes;
use http::{HeaderName, HeaderValue};
use ptl_bytecode::plan::{Fault, Phase, Plan, Ppm};
use rand::{Rng, RngExt};

/// A fault ready to apply: header names and values are parsed once, at load.
#[derive(Debug, Clone)]
pub enum Injected {
    Abort,
    Delay {
        us: u64,
    },
    Reset,
    Corrupt,
    Header {
        name: HeaderName,
        value: HeaderValue,
    },
}

impl Injected {
    pub fn kind(&self) -> FaultKind {
        match self {
            Injected::Abort => FaultKind::Abort,
            Injected::Delay { .. } => FaultKind::Delay,
            Injected::Reset => FaultKind::Reset,
            Injected::Corrupt => FaultKind::Corrupt,
            Injected::Header { .. } => FaultKind::Header,
        }
    }
}

/// The faults of one phase with their cumulative shares.
#[derive(Debug, Clone, Default)]
pub struct Injector {
    /// (upper bound of the fault's share interval in ppm, fault).
    table: Vec<(u32, Injected)>,
}

impl Injector {
    pub fn for_phase(plan: &Plan, phase: &Phase) -> Result<Injector, RuntimeError> {
        let invalid =
            |what: String| RuntimeError::InvalidPlan(format!("phase {}: {what}", phase.name));
        let mut table = Vec::with_capacity(phase.injections.len());
        let mut upto = 0u32;
        for inj in &phase.injections {
            let fault = match &inj.fault {
                Fault::Abort => Injected::Abort,
                Fault::Delay { us } => Injected::Delay { us: *us },
                Fault::Reset => Injected::Reset,
                Fault::Corrupt => Injected::Corrupt,
                Fault::Header { name, value } => {
                    let n = plan.consts.get(name.0 as usize).ok_or_else(|| {
                        invalid("inject header name is not a constant".to_string())
                    })?;
                    let v = plan.consts.get(value.0 as usize).ok_or_else(|| {
                        invalid("inject header value is not a constant".to_string())
                    })?;
                    Injected::Header {
                        name: HeaderName::from_bytes(n).map_err(|_| {
                            invalid(format!(
                                "invalid injected header name {:?}",
                                String::from_utf8_lossy(n)
                            ))
                        })?,
                        value: HeaderValue::from_bytes(v).map_err(|_| {
                            invalid(format!(
                                "invalid injected header value {:?}",
                                String::from_utf8_lossy(v)
                            ))
                        })?,
                    }
                }
            };
            upto = upto.saturating_add(inj.share.0).min(Ppm::ONE.0);
            table.push((upto, fault));
        }
        Ok(Injector { table })
    }

    /// The fault for the next request, if any.
    pub fn pick<R: Rng>(&self, rng: &mut R) -> Option<&Injected> {
        if self.table.is_empty() {
            return None;
        }
        let x = rng.random_range(0..Ppm::ONE.0);
        self.table
            .iter()
            .find(|(upto, _)| x < *upto)
            .map(|(_, f)| f)
    }
}

/// Malformed bytes standing in for a body: invalid UTF-8 and unbalanced JSON, at least as long
/// as the original so that length-based parsers read all of it.
pub fn corrupt_body(original_len: usize) -> Bytes {
    const PATTERN: &[u8] = b"\xff\xfe{\"\x00<corrupt\xc3\x28]]}\x01";
    let len = original_len.max(PATTERN.len());
    Bytes::from(
        PATTERN
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect::<Vec<u8>>(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ptl_bytecode::plan::{ConstId, Injection, Load};
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn phase(injections: Vec<Injection>) -> Phase {
        Phase {
            injections,
            ..Phase::new("p", Load::Pause { duration_us: 1 })
        }
    }

    fn empty_plan(consts: Vec<Vec<u8>>) -> Plan {
        Plan {
            name: "t".into(),
            target: "http://127.0.0.1:1".into(),
            timeout_us: 1,
            connections: 1,
            seed: 0,
            max_inflight: 1,
            overflow: ptl_bytecode::plan::Overflow::Drop,
            http: ptl_bytecode::HttpVersion::Http1,
            stop_at_knee: false,
            params: vec![],
            consts,
            datasets: vec![],
            vars: vec![],
            headers: vec![],
            scenarios: vec![],
            phases: vec![],
            thresholds: vec![],
            hosts: vec![],
            target_envs: vec![],
            tags: vec![],
        }
    }

    #[test]
    fn shares_are_honoured_and_exclusive() {
        let p = phase(vec![
            Injection {
                fault: Fault::Abort,
                share: Ppm(100_000),
            },
            Injection {
                fault: Fault::Delay { us: 5 },
                share: Ppm(300_000),
            },
        ]);
        let inj = Injector::for_phase(&empty_plan(vec![]), &p).expect("valid");
        let mut rng = SmallRng::seed_from_u64(7);
        let n = 200_000;
        let (mut abort, mut delay) = (0u32, 0u32);
        for _ in 0..n {
            match inj.pick(&mut rng) {
                Some(Injected::Abort) => abort += 1,
                Some(Injected::Delay { .. }) => delay += 1,
                Some(_) => panic!("unexpected fault"),
                None => {}
            }
        }
        // Binomial sd at n=200k, p=0.1 is ~134; 5 sd bounds.
        assert!((abort as i64 - 20_000).abs() < 700, "abort {abort}");
        assert!((delay as i64 - 60_000).abs() < 1_100, "delay {delay}");
    }

    #[test]
    fn bad_header_constants_are_load_errors() {
        let p = phase(vec![Injection {
            fault: Fault::Header {
                name: ConstId(0),
                value: ConstId(1),
            },
            share: Ppm(1),
        }]);
        assert!(
            Injector::for_phase(&empty_plan(vec![b"bad name".to_vec(), b"v".to_vec()]), &p)
                .is_err()
        );
        assert!(Injector::for_phase(&empty_plan(vec![]), &p).is_err());
        assert!(
            Injector::for_phase(&empty_plan(vec![b"x-fault".to_vec(), b"503".to_vec()]), &p)
                .is_ok()
        );
    }

    #[test]
    fn corrupt_bodies_are_not_utf8_and_keep_length() {
        let b = corrupt_body(100);
        assert_eq!(b.len(), 100);
        assert!(std::str::from_utf8(&b).is_err());
        assert!(corrupt_body(0).len() >= 16);
    }
}
