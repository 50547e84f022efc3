//! Lowering a checked plan to bytecode values: every text goes into the constant pool, once,
//! in first-use order (walking datasets, variables, headers, scenarios, phases in plan order),
//! so the same source and params always give the same [`Plan`].

use rustc_hash::FxHashMap;

use ptl_bytecode::{
    Capture, CaptureSource, ConstId, Dataset, Expect, Fault, Generator, HeaderTemplate, Injection,
    Phase, Plan, Request, Scenario, Step, Template, TemplateOp, Var, VarPart,
};

use crate::check::model::{
    CaptureSourceModel, ExpectModel, FaultModel, Gen, HeaderModel, LetPart, Model, Piece,
    RequestModel, StepModel,
};

/// The constant pool under construction.
#[derive(Debug, Default)]
struct Pool {
    consts: Vec<Vec<u8>>,
    /// Fx hashing: every literal of every template is looked up here, and the keys are the
    /// plan's own text (no untrusted party chooses them to collide).
    index: FxHashMap<Vec<u8>, ConstId>,
}

impl Pool {
    fn intern(&mut self, text: &str) -> ConstId {
        self.intern_bytes(text.as_bytes())
    }

    fn intern_bytes(&mut self, bytes: &[u8]) -> ConstId {
        if let Some(&id) = self.index.get(bytes) {
            return id;
        }
        let id = ConstId(self.consts.len() as u32);
        self.consts.push(bytes.to_vec());
        self.index.insert(bytes.to_vec(), id);
        id
    }

    fn template(&mut self, pieces: &[Piece]) -> Template {
        Template {
            ops: pieces
                .iter()
                .map(|p| match p {
                    Piece::Lit(s) => TemplateOp::Lit(self.intern(s)),
                    Piece::Bytes(b) => TemplateOp::Lit(self.intern_bytes(b)),
                    Piece::Var(v) => TemplateOp::Var(*v),
                    Piece::Field { var, column } => TemplateOp::Field {
                        var: *var,
                        column: *column,
                    },
                    Piece::Capture(r) => TemplateOp::Capture(*r),
                })
                .collect(),
        }
    }

    fn header(&mut self, h: &HeaderModel) -> HeaderTemplate {
        HeaderTemplate {
            name: self.template(&h.name),
            value: self.template(&h.value),
        }
    }
}

pub fn lower(model: &Model) -> Plan {
    let mut pool = Pool::default();
    let datasets = model
        .datasets
        .iter()
        .map(|d| Dataset {
            name: d.name.clone(),
            columns: d.columns.clone(),
            rows: d
                .rows
                .iter()
                .map(|row| row.iter().map(|cell| pool.intern(cell)).collect())
                .collect(),
        })
        .collect();
    let vars = model
        .vars
        .iter()
        .map(|v| Var {
            name: v.name.clone(),
            parts: v.parts.iter().map(|p| var_part(&mut pool, p)).collect(),
        })
        .collect();
    let headers = model.headers.iter().map(|h| pool.header(h)).collect();
    let scenarios = model
        .scenarios
        .iter()
        .map(|s| Scenario {
            name: s.name.clone(),
            weight: s.weight,
            single_request: s.single_request,
            cookies: s.cookies,
            registers: s.registers,
            steps: s
                .steps
                .iter()
                .map(|step| match step {
                    StepModel::Request(r) => Step::Request(request(&mut pool, r)),
                    StepModel::Think(t) => Step::Think(*t),
                })
                .collect(),
        })
        .collect();
    let phases = model
        .phases
        .iter()
        .map(|p| Phase {
            name: p.name.clone(),
            load: p.load,
            arrivals: p.arrivals,
            max_inflight: p.max_inflight,
            overflow: p.overflow,
            injections: p
                .injections
                .iter()
                .map(|i| Injection {
                    fault: match &i.fault {
                        FaultModel::Abort => Fault::Abort,
                        FaultModel::Delay { us } => Fault::Delay { us: *us },
                        FaultModel::Reset => Fault::Reset,
                        FaultModel::Corrupt => Fault::Corrupt,
                        FaultModel::Header { name, value } => Fault::Header {
                            name: pool.intern(name),
                            value: pool.intern(value),
                        },
                    },
                    share: i.share,
                })
                .collect(),
            mix: p.mix.clone(),
        })
        .collect();
    Plan {
        name: model.name.clone(),
        target: model.target.clone(),
        timeout_us: model.timeout_us,
        connections: model.connections,
        seed: model.seed,
        max_inflight: model.max_inflight,
        overflow: model.overflow,
        http: model.http,
        stop_at_knee: model.stop_at_knee,
        params: model.params.clone(),
        hosts: model.hosts.clone(),
        target_envs: model.target_envs.clone(),
        tags: model.tags.clone(),
        consts: pool.consts,
        datasets,
        vars,
        headers,
        scenarios,
        phases,
        thresholds: model.thresholds.clone(),
    }
}

fn var_part(pool: &mut Pool, part: &LetPart) -> VarPart {
    match part {
        LetPart::Lit(s) => VarPart::Lit(pool.intern(s)),
        LetPart::Var(v) => VarPart::Var(*v),
        LetPart::Encode { encoding, parts } => VarPart::Encode {
            encoding: *encoding,
            parts: parts.iter().map(|p| var_part(pool, p)).collect(),
        },
        LetPart::Gen(g) => VarPart::Gen(match g {
            Gen::Int { min, max } => Generator::Int {
                min: *min,
                max: *max,
            },
            Gen::Float { min, max } => Generator::Float {
                min: *min,
                max: *max,
            },
            Gen::OneOf(choices) => {
                Generator::OneOf(choices.iter().map(|c| pool.intern(c)).collect())
            }
            Gen::Weighted(choices) => {
                Generator::Weighted(choices.iter().map(|(c, w)| (pool.intern(c), *w)).collect())
            }
            Gen::Uuid => Generator::Uuid,
            Gen::Seq => Generator::Seq,
            Gen::Csv { dataset, draw } => Generator::Csv {
                dataset: *dataset,
                draw: *draw,
            },
            Gen::Zipf { min, max, s } => Generator::Zipf {
                min: *min,
                max: *max,
                s: *s,
            },
            Gen::Str { len } => Generator::Str { len: *len },
            Gen::Now => Generator::Now,
            Gen::Env { name, default } => Generator::Env {
                name: pool.intern(name),
                default: default.as_ref().map(|d| pool.intern(d)),
            },
        }),
    }
}

fn request(pool: &mut Pool, r: &RequestModel) -> Request {
    Request {
        name: r.name.clone(),
        method: r.method,
        path: pool.template(&r.path),
        headers: r.headers.iter().map(|h| pool.header(h)).collect(),
        body: r.body.as_ref().map(|b| pool.template(b)),
        expects: r
            .expects
            .iter()
            .map(|e| match e {
                ExpectModel::Status(ranges) => Expect::Status(ranges.clone()),
                ExpectModel::LatencyBelow { us } => Expect::LatencyBelow { us: *us },
                ExpectModel::BodyContains(s) => Expect::BodyContains(pool.intern(s)),
                ExpectModel::JsonEq { path, value } => Expect::JsonEq {
                    path: pool.intern(path),
                    value: pool.intern(value),
                },
                ExpectModel::BodyMatches(re) => Expect::BodyMatches(pool.intern(re)),
                ExpectModel::JsonNe { path, value } => Expect::JsonNe {
                    path: pool.intern(path),
                    value: pool.intern(value),
                },
                ExpectModel::JsonExists(path) => Expect::JsonExists(pool.intern(path)),
                ExpectModel::HeaderContains { name, needle } => Expect::HeaderContains {
                    name: pool.intern(name),
                    needle: pool.intern(needle),
                },
            })
            .collect(),
        captures: r
            .captures
            .iter()
            .map(|c| Capture {
                register: c.register,
                source: match &c.source {
                    CaptureSourceModel::Json(p) => CaptureSource::Json(pool.intern(p)),
                    CaptureSourceModel::Header(h) => CaptureSource::Header(pool.intern(h)),
                    CaptureSourceModel::Regex(r) => CaptureSource::Regex(pool.intern(r)),
                    CaptureSourceModel::Status => CaptureSource::Status,
                },
                default: c.default.as_ref().map(|d| pool.intern(d)),
            })
            .collect(),
        host: r.host,
        timeout_us: r.timeout_us,
        tags: r.tags.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_interns_once_in_first_use_order() {
        let mut pool = Pool::default();
        assert_eq!(pool.intern("b"), ConstId(0));
        assert_eq!(pool.intern("a"), ConstId(1));
        assert_eq!(pool.intern("b"), ConstId(0));
        assert_eq!(pool.consts, vec![b"b".to_vec(), b"a".to_vec()]);
    }
}
