//! Plans for the integration tests: a hand-written one that uses every enum variant, a minimal
//! one, and proptest strategies for arbitrary valid plans (random values, then a repair pass
//! that brings every index and range into what the decoder accepts).

#![allow(dead_code)]

use proptest::collection::vec;
use proptest::prelude::*;
use ptl_bytecode::*;

pub fn lit(c: u32) -> TemplateOp {
    TemplateOp::Lit(ConstId(c))
}

pub fn tpl(ops: Vec<TemplateOp>) -> Template {
    Template { ops }
}

pub fn minimal_plan() -> Plan {
    Plan {
        name: "a".into(),
        target: "t".into(),
        timeout_us: 1,
        connections: 2,
        seed: 3,
        max_inflight: 4,
        overflow: Overflow::Queue,
        http: HttpVersion::Http1,
        stop_at_knee: false,
        params: vec![],
        hosts: vec![],
        target_envs: vec![],
        tags: vec![],
        consts: vec![],
        datasets: vec![],
        vars: vec![],
        headers: vec![],
        scenarios: vec![],
        phases: vec![],
        thresholds: vec![],
    }
}

/// A realistic plan touching every variant of every enum, so that byte-level tests reach every
/// branch of the decoder.
pub fn sample_plan() -> Plan {
    let consts: Vec<Vec<u8>> = [
        "/products/",          // 0
        "user-agent",          // 1
        "ptl",                 // 2
        "red",                 // 3
        "blue",                // 4
        "a@example.com",       // 5
        "hunter2",             // 6
        "b@example.com",       // 7
        "swordfish",           // 8
        "/login",              // 9
        "{\"email\":\"",       // 10
        "\"}",                 // 11
        "$.token",             // 12
        "x-request-id",        // 13
        "token=(\\w+)",        // 14
        "ok",                  // 15
        "$.status",            // 16
        "\"active\"",          // 17
        "authorization",       // 18
        "Bearer ",             // 19
        "none",                // 20
        "x-envoy-fault-abort", // 21
        "503",                 // 22
        "order-",              // 23
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect();
    let c = ConstId;
    Plan {
        name: "shop".into(),
        target: "http://127.0.0.1:8080/api".into(),
        timeout_us: 30_000_000,
        connections: 64,
        seed: 42,
        max_inflight: 1000,
        overflow: Overflow::Drop,
        http: HttpVersion::Http2,
        stop_at_knee: false,
        params: vec![("peak".into(), "100/s".into())],
        hosts: vec![Host {
            name: "auth".into(),
            url: "http://127.0.0.1:9000".into(),
        }],
        target_envs: vec![TargetEnv {
            host: 1,
            name: "AUTH_URL".into(),
            default: Some("http://127.0.0.1:9000".into()),
        }],
        tags: vec![
            Tag {
                key: "group".into(),
                value: "browse".into(),
            },
            Tag {
                key: "team".into(),
                value: "shop".into(),
            },
        ],
        consts,
        datasets: vec![Dataset {
            name: "users.csv".into(),
            columns: vec!["email".into(), "password".into()],
            rows: vec![vec![c(5), c(6)], vec![c(7), c(8)]],
        }],
        vars: vec![
            Var {
                name: "product_id".into(),
                parts: vec![VarPart::Gen(Generator::Int { min: 1, max: 1000 })],
            },
            Var {
                name: "customer".into(),
                parts: vec![VarPart::Gen(Generator::Csv {
                    dataset: 0,
                    draw: Draw::Unique,
                })],
            },
            Var {
                name: "order".into(),
                parts: vec![
                    VarPart::Lit(c(23)),
                    VarPart::Var(0),
                    VarPart::Gen(Generator::Seq),
                    VarPart::Encode {
                        encoding: Encoding::Base64,
                        parts: vec![VarPart::Var(0), VarPart::Lit(c(23))],
                    },
                ],
            },
            Var {
                name: "misc".into(),
                parts: vec![
                    VarPart::Gen(Generator::Float {
                        min: -1.5,
                        max: 2.25,
                    }),
                    VarPart::Gen(Generator::OneOf(vec![c(3), c(4)])),
                    VarPart::Gen(Generator::Weighted(vec![
                        (c(3), Ppm(250_000)),
                        (c(4), Ppm(750_000)),
                    ])),
                    VarPart::Gen(Generator::Uuid),
                    VarPart::Gen(Generator::Zipf {
                        min: -5,
                        max: 500,
                        s: 1.07,
                    }),
                    VarPart::Gen(Generator::Str { len: 12 }),
                    VarPart::Gen(Generator::Now),
                ],
            },
        ],
        headers: vec![HeaderTemplate {
            name: tpl(vec![lit(1)]),
            value: tpl(vec![lit(2)]),
        }],
        scenarios: vec![
            Scenario {
                name: "browse".into(),
                weight: 3,
                single_request: true,
                cookies: false,
                registers: 0,
                steps: vec![Step::Request(Request {
                    name: "product".into(),
                    method: Method::Get,
                    path: tpl(vec![lit(0), TemplateOp::Var(0)]),
                    headers: vec![],
                    body: None,
                    expects: vec![
                        Expect::Status(vec![(200, 299), (304, 304)]),
                        Expect::LatencyBelow { us: 500_000 },
                    ],
                    captures: vec![],
                    host: Some(0),
                    timeout_us: Some(2_000_000),
                    tags: vec![0, 1],
                })],
            },
            Scenario {
                name: "checkout".into(),
                weight: 1,
                single_request: false,
                cookies: true,
                registers: 3,
                steps: vec![
                    Step::Request(Request {
                        name: "login".into(),
                        method: Method::Post,
                        path: tpl(vec![lit(9)]),
                        headers: vec![],
                        body: Some(tpl(vec![
                            lit(10),
                            TemplateOp::Field { var: 1, column: 0 },
                            lit(11),
                        ])),
                        expects: vec![
                            Expect::BodyContains(c(15)),
                            Expect::JsonEq {
                                path: c(16),
                                value: c(17),
                            },
                            Expect::BodyMatches(c(15)),
                            Expect::JsonNe {
                                path: c(16),
                                value: c(15),
                            },
                            Expect::JsonExists(c(16)),
                            Expect::HeaderContains {
                                name: c(15),
                                needle: c(15),
                            },
                        ],
                        captures: vec![
                            Capture {
                                register: 0,
                                source: CaptureSource::Json(c(12)),
                                default: None,
                            },
                            Capture {
                                register: 1,
                                source: CaptureSource::Header(c(13)),
                                default: Some(c(20)),
                            },
                            Capture {
                                register: 2,
                                source: CaptureSource::Regex(c(14)),
                                default: None,
                            },
                        ],
                        host: None,
                        timeout_us: None,
                        tags: vec![1],
                    }),
                    Step::Think(Think::Uniform {
                        min_us: 1_000_000,
                        max_us: 2_000_000,
                    }),
                    Step::Request(Request {
                        name: "order".into(),
                        method: Method::Put,
                        path: tpl(vec![lit(0), TemplateOp::Var(2)]),
                        headers: vec![HeaderTemplate {
                            name: tpl(vec![lit(18)]),
                            value: tpl(vec![lit(19), TemplateOp::Capture(0)]),
                        }],
                        body: Some(tpl(vec![])),
                        expects: vec![],
                        captures: vec![Capture {
                            register: 2,
                            source: CaptureSource::Status,
                            default: None,
                        }],
                        host: Some(0),
                        timeout_us: None,
                        tags: vec![],
                    }),
                    Step::Think(Think::fixed(250_000)),
                    Step::Think(Think::Exponential { mean_us: 500_000 }),
                ]
                .into_iter()
                .chain(
                    [Method::Delete, Method::Patch, Method::Head, Method::Options]
                        .into_iter()
                        .map(|method| {
                            Step::Request(Request {
                                name: method.as_str().to_lowercase(),
                                method,
                                path: tpl(vec![lit(0)]),
                                headers: vec![],
                                body: None,
                                expects: vec![],
                                captures: vec![],
                                host: None,
                                timeout_us: None,
                                tags: vec![],
                            })
                        }),
                )
                .collect(),
            },
        ],
        phases: vec![
            Phase {
                name: "warmup".into(),
                load: Load::Rate {
                    per_sec: 10.0,
                    duration_us: 30_000_000,
                },
                arrivals: Arrivals::Uniform,
                max_inflight: None,
                overflow: None,
                injections: vec![],
                mix: None,
            },
            Phase {
                name: "climb".into(),
                load: Load::Ramp {
                    from: 10.0,
                    to: 100.0,
                    duration_us: 60_000_000,
                },
                arrivals: Arrivals::Poisson,
                max_inflight: Some(200),
                overflow: Some(Overflow::Queue),
                injections: vec![
                    Injection {
                        fault: Fault::Abort,
                        share: Ppm(15_000),
                    },
                    Injection {
                        fault: Fault::Delay { us: 200_000 },
                        share: Ppm(100_000),
                    },
                    Injection {
                        fault: Fault::Reset,
                        share: Ppm(1),
                    },
                    Injection {
                        fault: Fault::Corrupt,
                        share: Ppm(0),
                    },
                    Injection {
                        fault: Fault::Header {
                            name: c(21),
                            value: c(22),
                        },
                        share: Ppm(50_000),
                    },
                ],
                mix: Some(vec![(0, 1), (1, 4)]),
            },
            Phase {
                name: "stairs".into(),
                load: Load::Steps {
                    from: 10.0,
                    to: 50.0,
                    by: 10.0,
                    every_us: 10_000_000,
                },
                arrivals: Arrivals::Uniform,
                max_inflight: None,
                overflow: Some(Overflow::Drop),
                injections: vec![],
                mix: Some(vec![]),
            },
            Phase {
                name: "rest".into(),
                load: Load::Pause {
                    duration_us: 5_000_000,
                },
                arrivals: Arrivals::Uniform,
                max_inflight: None,
                overflow: None,
                injections: vec![],
                mix: None,
            },
            Phase {
                name: "closed".into(),
                load: Load::Users {
                    users: 50,
                    duration_us: 120_000_000,
                    think: Think::fixed(1_000_000),
                },
                arrivals: Arrivals::Uniform,
                max_inflight: None,
                overflow: None,
                injections: vec![],
                mix: None,
            },
        ],
        thresholds: vec![
            threshold(
                "p99 < 1s",
                Scope::All,
                Metric::Percentile(99.9),
                Cmp::Lt,
                1e6,
            ),
            threshold(
                "warmup.max <= 2s",
                Scope::Phase(0),
                Metric::Max,
                Cmp::Le,
                2e6,
            ),
            threshold(
                "browse.mean > 0",
                Scope::Scenario(0),
                Metric::Mean,
                Cmp::Gt,
                0.0,
            ),
            threshold(
                "checkout.login.error_rate >= 0",
                Scope::Step {
                    scenario: 1,
                    step: 0,
                },
                Metric::ErrorRate,
                Cmp::Ge,
                0.0,
            ),
            threshold(
                "achieved < 95%",
                Scope::All,
                Metric::AchievedRate,
                Cmp::Lt,
                0.95,
            ),
            threshold(
                "dropped < 1%",
                Scope::All,
                Metric::DroppedRate,
                Cmp::Lt,
                0.01,
            ),
            threshold(
                "checkout.iteration.p50 < 3s",
                Scope::Scenario(1),
                Metric::IterationPercentile(50.0),
                Cmp::Lt,
                3e6,
            ),
            threshold(
                "tag(group = \"browse\").p99 < 1s",
                Scope::Tag(0),
                Metric::Percentile(99.0),
                Cmp::Lt,
                1e6,
            ),
            threshold(
                "completion > 99%",
                Scope::All,
                Metric::CompletionRate,
                Cmp::Gt,
                0.99,
            ),
        ],
    }
}

/// `plan` without what format v7 added (targets read from the environment, `stop_at knee`):
/// what a v6 plan of it holds.
pub fn without_v7(mut plan: Plan) -> Plan {
    plan.target_envs.clear();
    plan.stop_at_knee = false;
    plan
}

/// `plan` without what formats v7 and v6 added (feeders' draw modes, encoded parts): what a v5
/// plan of it holds.
pub fn without_v6(plan: Plan) -> Plan {
    let mut plan = without_v7(plan);
    for v in &mut plan.vars {
        v.parts.retain(|p| !matches!(p, VarPart::Encode { .. }));
        for p in &mut v.parts {
            if let VarPart::Gen(Generator::Csv { draw, .. }) = p {
                *draw = Draw::Sequential;
            }
        }
    }
    plan
}

/// `plan` without what formats v5 and v6 added (hosts, tags, per-request timeouts, tag
/// thresholds, draw modes): what a v4 plan of it holds.
pub fn without_v5(plan: Plan) -> Plan {
    let mut plan = without_v6(plan);
    plan.hosts.clear();
    plan.tags.clear();
    plan.thresholds
        .retain(|t| !matches!(t.scope, Scope::Tag(_)));
    for s in &mut plan.scenarios {
        for step in &mut s.steps {
            if let Step::Request(r) = step {
                r.host = None;
                r.timeout_us = None;
                r.tags.clear();
            }
        }
    }
    plan
}

fn threshold(expr: &str, scope: Scope, metric: Metric, cmp: Cmp, value: f64) -> Threshold {
    Threshold {
        expr: expr.into(),
        scope,
        metric,
        cmp,
        value,
        abort: matches!(metric, Metric::ErrorRate),
    }
}

/// Wraps a payload in a header with a correct length and CRC-32, so a test can reach the
/// section decoder with bytes of its choosing.
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(b"PTLC");
    out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Recomputes the CRC-32 of an encoded plan after a test edited its payload.
pub fn fix_checksum(bytes: &mut [u8]) {
    let crc = crc32fast::hash(&bytes[20..]);
    bytes[16..20].copy_from_slice(&crc.to_le_bytes());
}

// ---- strategies ----

fn name() -> impl Strategy<Value = String> {
    "\\PC{0,10}"
}

fn const_id() -> impl Strategy<Value = ConstId> {
    any::<u32>().prop_map(ConstId)
}

fn http_version() -> impl Strategy<Value = HttpVersion> {
    prop_oneof![Just(HttpVersion::Http1), Just(HttpVersion::Http2)]
}

fn overflow() -> impl Strategy<Value = Overflow> {
    prop_oneof![Just(Overflow::Drop), Just(Overflow::Queue)]
}

fn generator() -> impl Strategy<Value = Generator> {
    prop_oneof![
        (any::<i64>(), any::<i64>()).prop_map(|(a, b)| Generator::Int {
            min: a.min(b),
            max: a.max(b)
        }),
        (-1e9..1e9f64, 0.001..1e6f64).prop_map(|(min, d)| Generator::Float { min, max: min + d }),
        vec(const_id(), 1..4).prop_map(Generator::OneOf),
        vec((const_id(), any::<u32>()), 1..4).prop_map(|raw| {
            // Any split of 100 % across the entries.
            let mut left = Ppm::ONE.0;
            let n = raw.len();
            let items = raw
                .into_iter()
                .enumerate()
                .map(|(i, (c, r))| {
                    let share = if i + 1 == n { left } else { r % (left + 1) };
                    left -= share;
                    (c, Ppm(share))
                })
                .collect();
            Generator::Weighted(items)
        }),
        Just(Generator::Uuid),
        Just(Generator::Seq),
        (any::<u32>(), draw()).prop_map(|(dataset, draw)| Generator::Csv { dataset, draw }),
        (any::<i64>(), any::<i64>(), 0.0..5.0f64).prop_map(|(a, b, s)| Generator::Zipf {
            min: a.min(b),
            max: a.max(b),
            s
        }),
        (0u32..64).prop_map(|len| Generator::Str { len }),
        Just(Generator::Now),
    ]
}

fn draw() -> impl Strategy<Value = Draw> {
    prop_oneof![
        Just(Draw::Sequential),
        Just(Draw::Random),
        Just(Draw::Unique)
    ]
}

fn var() -> impl Strategy<Value = Var> {
    let part = prop_oneof![
        const_id().prop_map(VarPart::Lit),
        any::<u32>().prop_map(VarPart::Var),
        generator().prop_map(VarPart::Gen),
        (
            prop_oneof![Just(Encoding::Base64), Just(Encoding::UrlEncode)],
            vec(
                prop_oneof![
                    const_id().prop_map(VarPart::Lit),
                    any::<u32>().prop_map(VarPart::Var)
                ],
                0..3
            )
        )
            .prop_map(|(encoding, parts)| VarPart::Encode { encoding, parts }),
    ];
    prop_oneof![
        // A CSV row variable, so that `Field` ops have something to read.
        (name(), any::<u32>(), draw()).prop_map(|(name, dataset, draw)| Var {
            name,
            parts: vec![VarPart::Gen(Generator::Csv { dataset, draw })],
        }),
        (name(), vec(part, 0..4)).prop_map(|(name, parts)| Var { name, parts }),
    ]
}

fn template() -> impl Strategy<Value = Template> {
    let op = prop_oneof![
        const_id().prop_map(TemplateOp::Lit),
        any::<u32>().prop_map(TemplateOp::Var),
        (any::<u32>(), any::<u32>()).prop_map(|(var, column)| TemplateOp::Field { var, column }),
        any::<u32>().prop_map(TemplateOp::Capture),
    ];
    vec(op, 0..4).prop_map(|ops| Template { ops })
}

fn header() -> impl Strategy<Value = HeaderTemplate> {
    (template(), template()).prop_map(|(name, value)| HeaderTemplate { name, value })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Get),
        Just(Method::Post),
        Just(Method::Put),
        Just(Method::Delete),
        Just(Method::Patch),
        Just(Method::Head),
        Just(Method::Options),
    ]
}

fn expect() -> impl Strategy<Value = Expect> {
    prop_oneof![
        vec((any::<u16>(), any::<u16>()), 0..3).prop_map(|rs| Expect::Status(
            rs.into_iter().map(|(a, b)| (a.min(b), a.max(b))).collect()
        )),
        any::<u64>().prop_map(|us| Expect::LatencyBelow { us }),
        const_id().prop_map(Expect::BodyContains),
        (const_id(), const_id()).prop_map(|(path, value)| Expect::JsonEq { path, value }),
        const_id().prop_map(Expect::BodyMatches),
        (const_id(), const_id()).prop_map(|(path, value)| Expect::JsonNe { path, value }),
        const_id().prop_map(Expect::JsonExists),
        (const_id(), const_id()).prop_map(|(name, needle)| Expect::HeaderContains { name, needle }),
    ]
}

fn capture() -> impl Strategy<Value = Capture> {
    let source = prop_oneof![
        const_id().prop_map(CaptureSource::Json),
        const_id().prop_map(CaptureSource::Header),
        const_id().prop_map(CaptureSource::Regex),
        Just(CaptureSource::Status),
    ];
    (any::<u32>(), source, proptest::option::of(const_id())).prop_map(
        |(register, source, default)| Capture {
            register,
            source,
            default,
        },
    )
}

fn step() -> impl Strategy<Value = Step> {
    let request = (
        name(),
        method(),
        template(),
        vec(header(), 0..2),
        proptest::option::of(template()),
        vec(expect(), 0..3),
        vec(capture(), 0..3),
        (
            proptest::option::of(any::<u32>()),
            proptest::option::of(any::<u64>()),
            vec(any::<u32>(), 0..3),
        ),
    )
        .prop_map(
            |(name, method, path, headers, body, expects, captures, (host, timeout_us, tags))| {
                Request {
                    name,
                    method,
                    path,
                    headers,
                    body,
                    expects,
                    captures,
                    host,
                    timeout_us,
                    tags,
                }
            },
        );
    prop_oneof![
        3 => request.prop_map(Step::Request),
        1 => think().prop_map(Step::Think),
    ]
}

fn scenario() -> impl Strategy<Value = Scenario> {
    (
        name(),
        any::<u32>(),
        any::<bool>(),
        any::<bool>(),
        0u32..4,
        vec(step(), 0..4),
    )
        .prop_map(
            |(name, weight, single_request, cookies, registers, steps)| Scenario {
                name,
                weight,
                single_request,
                cookies,
                registers,
                steps,
            },
        )
}

fn load() -> impl Strategy<Value = Load> {
    let rate = 0.0..1e6f64;
    prop_oneof![
        (rate.clone(), any::<u64>()).prop_map(|(per_sec, duration_us)| Load::Rate {
            per_sec,
            duration_us
        }),
        (rate.clone(), rate.clone(), any::<u64>()).prop_map(|(from, to, duration_us)| {
            Load::Ramp {
                from,
                to,
                duration_us,
            }
        }),
        (rate.clone(), rate, -100.0..100.0f64, any::<u64>()).prop_map(
            |(from, to, by, every_us)| {
                Load::Steps {
                    from,
                    to,
                    by,
                    every_us,
                }
            }
        ),
        any::<u64>().prop_map(|duration_us| Load::Pause { duration_us }),
        (any::<u32>(), any::<u64>(), think()).prop_map(|(users, duration_us, think)| {
            Load::Users {
                users,
                duration_us,
                think,
            }
        }),
    ]
}

fn think() -> impl Strategy<Value = Think> {
    prop_oneof![
        (any::<u64>(), any::<u64>()).prop_map(|(a, b)| Think::Uniform {
            min_us: a.min(b),
            max_us: a.max(b)
        }),
        any::<u64>().prop_map(|mean_us| Think::Exponential { mean_us }),
    ]
}

fn injection() -> impl Strategy<Value = Injection> {
    let fault = prop_oneof![
        Just(Fault::Abort),
        any::<u64>().prop_map(|us| Fault::Delay { us }),
        Just(Fault::Reset),
        Just(Fault::Corrupt),
        (const_id(), const_id()).prop_map(|(name, value)| Fault::Header { name, value }),
    ];
    (fault, 0..=Ppm::ONE.0).prop_map(|(fault, share)| Injection {
        fault,
        share: Ppm(share),
    })
}

fn phase() -> impl Strategy<Value = Phase> {
    (
        name(),
        load(),
        prop_oneof![Just(Arrivals::Uniform), Just(Arrivals::Poisson)],
        proptest::option::of(any::<u32>()),
        proptest::option::of(overflow()),
        vec(injection(), 0..3),
        proptest::option::of(vec((any::<u32>(), any::<u32>()), 0..3)),
    )
        .prop_map(
            |(name, load, arrivals, max_inflight, overflow, injections, mix)| Phase {
                name,
                load,
                arrivals,
                max_inflight,
                overflow,
                injections,
                mix,
            },
        )
}

fn threshold_strategy() -> impl Strategy<Value = Threshold> {
    let percentile = (1u32..=100_000).prop_map(|k| f64::from(k) / 1000.0);
    let metric = prop_oneof![
        percentile.clone().prop_map(Metric::Percentile),
        Just(Metric::Max),
        Just(Metric::Mean),
        Just(Metric::ErrorRate),
        Just(Metric::AchievedRate),
        Just(Metric::DroppedRate),
        percentile.prop_map(Metric::IterationPercentile),
        Just(Metric::CompletionRate),
    ];
    let scope = prop_oneof![
        Just(Scope::All),
        any::<u32>().prop_map(Scope::Phase),
        any::<u32>().prop_map(Scope::Scenario),
        (any::<u32>(), any::<u32>()).prop_map(|(scenario, step)| Scope::Step { scenario, step }),
        any::<u32>().prop_map(Scope::Tag),
    ];
    let cmp = prop_oneof![Just(Cmp::Lt), Just(Cmp::Le), Just(Cmp::Gt), Just(Cmp::Ge)];
    (name(), scope, metric, cmp, -1e12..1e12f64, any::<bool>()).prop_map(
        |(expr, scope, metric, cmp, value, abort)| Threshold {
            expr,
            scope,
            metric,
            cmp,
            value,
            abort,
        },
    )
}

/// Arbitrary plans that the decoder must accept.
pub fn arb_plan() -> impl Strategy<Value = Plan> {
    let meta = (
        name(),
        name(),
        any::<u64>(),
        any::<u32>(),
        any::<u64>(),
        any::<u32>(),
        (overflow(), http_version(), any::<bool>()),
        vec((name(), name()), 0..3),
        vec((name(), name()), 0..3),
        vec((name(), name()), 0..3),
    );
    let datasets = vec(
        (name(), vec(name(), 0..3), vec(vec(const_id(), 0..3), 0..3)).prop_map(
            |(name, columns, rows)| Dataset {
                name,
                columns,
                rows,
            },
        ),
        0..3,
    );
    let body = (
        vec(vec(any::<u8>(), 0..16), 0..8),
        datasets,
        vec(var(), 0..5),
        vec(header(), 0..3),
        vec(scenario(), 0..3),
        vec(phase(), 0..3),
        vec(threshold_strategy(), 0..4),
    );
    (meta, body).prop_map(
        |(
            (
                name,
                target,
                timeout_us,
                connections,
                seed,
                max_inflight,
                (overflow, http, stop_at_knee),
                params,
                hosts,
                tags,
            ),
            (consts, datasets, vars, headers, scenarios, phases, thresholds),
        )| {
            repair(Plan {
                name,
                target,
                timeout_us,
                connections,
                seed,
                max_inflight,
                overflow,
                http,
                stop_at_knee,
                params,
                hosts: hosts
                    .into_iter()
                    .map(|(name, url)| Host { name, url })
                    .collect(),
                target_envs: Vec::new(),
                tags: tags
                    .into_iter()
                    .map(|(key, value)| Tag { key, value })
                    .collect(),
                consts,
                datasets,
                vars,
                headers,
                scenarios,
                phases,
                thresholds,
            })
        },
    )
}

/// Maps every index into range and every rule the decoder enforces into force, keeping as much
/// of the random input as possible.
fn repair(mut plan: Plan) -> Plan {
    if plan.consts.is_empty() {
        plan.consts.push(b"x".to_vec());
    }
    let n_consts = plan.consts.len() as u32;
    let fix = |c: &mut ConstId| c.0 %= n_consts;

    for d in &mut plan.datasets {
        for row in &mut d.rows {
            row.resize(d.columns.len(), ConstId(0));
            row.iter_mut().for_each(fix);
        }
    }

    let Plan {
        datasets,
        vars,
        headers,
        scenarios,
        phases,
        thresholds,
        hosts,
        tags,
        ..
    } = &mut plan;
    let n_hosts = hosts.len() as u32;
    let n_tags = tags.len() as u32;
    for (slot, v) in vars.iter_mut().enumerate() {
        for part in &mut v.parts {
            match part {
                VarPart::Lit(c) => fix(c),
                VarPart::Var(_) if slot == 0 => *part = VarPart::Lit(ConstId(0)),
                VarPart::Var(i) => *i %= slot as u32,
                VarPart::Gen(g) => repair_generator(g, n_consts, datasets),
                VarPart::Encode { parts, .. } => {
                    for p in parts {
                        match p {
                            VarPart::Var(i) if slot > 0 => *i %= slot as u32,
                            VarPart::Lit(c) => fix(c),
                            other => *other = VarPart::Lit(ConstId(0)),
                        }
                    }
                }
            }
        }
    }

    // Variables a `Field` op may read: CSV rows of datasets with at least one column.
    let csv_vars: Vec<(u32, u32)> = vars
        .iter()
        .enumerate()
        .filter_map(|(i, v)| {
            let cols = datasets[v.csv_dataset()? as usize].columns.len() as u32;
            (cols > 0).then_some((i as u32, cols))
        })
        .collect();
    let tcx = TemplateRepair {
        n_consts,
        n_vars: vars.len() as u32,
        csv_vars: &csv_vars,
    };

    for h in headers.iter_mut() {
        tcx.header(h, 0);
    }

    for s in scenarios.iter_mut() {
        let registers = s.registers;
        for step in &mut s.steps {
            match step {
                Step::Think { .. } => {}
                Step::Request(r) => {
                    tcx.template(&mut r.path, registers);
                    for h in &mut r.headers {
                        tcx.header(h, registers);
                    }
                    if let Some(b) = &mut r.body {
                        tcx.template(b, registers);
                    }
                    for e in &mut r.expects {
                        match e {
                            Expect::BodyContains(c)
                            | Expect::BodyMatches(c)
                            | Expect::JsonExists(c) => fix(c),
                            Expect::JsonEq { path, value } | Expect::JsonNe { path, value } => {
                                fix(path);
                                fix(value);
                            }
                            Expect::HeaderContains { name, needle } => {
                                fix(name);
                                fix(needle);
                            }
                            Expect::Status(_) | Expect::LatencyBelow { .. } => {}
                        }
                    }
                    if registers == 0 {
                        r.captures.clear();
                    }
                    r.host = match r.host {
                        Some(h) if n_hosts > 0 => Some(h % n_hosts),
                        _ => None,
                    };
                    // Each key at most once: keep a tag only if its key is new.
                    let mut keys: Vec<&str> = Vec::new();
                    r.tags.retain_mut(|t| {
                        if n_tags == 0 {
                            return false;
                        }
                        *t %= n_tags;
                        let key = tags[*t as usize].key.as_str();
                        let new = !keys.contains(&key);
                        keys.push(key);
                        new
                    });
                    for c in &mut r.captures {
                        c.register %= registers.max(1);
                        match &mut c.source {
                            CaptureSource::Json(x)
                            | CaptureSource::Header(x)
                            | CaptureSource::Regex(x) => fix(x),
                            CaptureSource::Status => {}
                        }
                        if let Some(d) = &mut c.default {
                            fix(d);
                        }
                    }
                }
            }
        }
    }

    let n_scenarios = scenarios.len() as u32;
    for p in phases.iter_mut() {
        for inj in &mut p.injections {
            if let Fault::Header { name, value } = &mut inj.fault {
                fix(name);
                fix(value);
            }
        }
        if n_scenarios == 0 {
            p.mix = None;
        }
        if let Some(mix) = &mut p.mix {
            for (s, _) in mix {
                *s %= n_scenarios;
            }
        }
    }

    let n_phases = phases.len() as u32;
    for t in thresholds.iter_mut() {
        t.scope = match t.scope {
            Scope::Phase(_) if n_phases == 0 => Scope::All,
            Scope::Phase(p) => Scope::Phase(p % n_phases),
            Scope::Scenario(_) | Scope::Step { .. } if n_scenarios == 0 => Scope::All,
            Scope::Scenario(s) => Scope::Scenario(s % n_scenarios),
            Scope::Step { scenario, step } => {
                let scenario = scenario % n_scenarios;
                match scenarios[scenario as usize].steps.len() as u32 {
                    0 => Scope::Scenario(scenario),
                    n => Scope::Step {
                        scenario,
                        step: step % n,
                    },
                }
            }
            Scope::Tag(_) if n_tags == 0 => Scope::All,
            Scope::Tag(g) => Scope::Tag(g % n_tags),
            Scope::All => Scope::All,
        };
    }
    plan
}

fn repair_generator(g: &mut Generator, n_consts: u32, datasets: &mut [Dataset]) {
    match g {
        Generator::OneOf(items) => items.iter_mut().for_each(|c| c.0 %= n_consts),
        Generator::Weighted(items) => items.iter_mut().for_each(|(c, _)| c.0 %= n_consts),
        Generator::Csv { .. } if datasets.is_empty() => *g = Generator::Uuid,
        Generator::Csv { dataset, .. } => {
            *dataset %= datasets.len() as u32;
            let d = &mut datasets[*dataset as usize];
            if d.rows.is_empty() {
                d.rows.push(vec![ConstId(0); d.columns.len()]);
            }
        }
        _ => {}
    }
}

struct TemplateRepair<'a> {
    n_consts: u32,
    n_vars: u32,
    csv_vars: &'a [(u32, u32)],
}

impl TemplateRepair<'_> {
    fn header(&self, h: &mut HeaderTemplate, registers: u32) {
        self.template(&mut h.name, registers);
        self.template(&mut h.value, registers);
    }

    fn template(&self, t: &mut Template, registers: u32) {
        for op in &mut t.ops {
            *op = match *op {
                TemplateOp::Lit(c) => TemplateOp::Lit(ConstId(c.0 % self.n_consts)),
                TemplateOp::Var(_) if self.n_vars == 0 => TemplateOp::Lit(ConstId(0)),
                TemplateOp::Var(v) => TemplateOp::Var(v % self.n_vars),
                TemplateOp::Field { .. } if self.csv_vars.is_empty() => TemplateOp::Lit(ConstId(0)),
                TemplateOp::Field { var, column } => {
                    let (var, cols) = self.csv_vars[var as usize % self.csv_vars.len()];
                    TemplateOp::Field {
                        var,
                        column: column % cols,
                    }
                }
                TemplateOp::Capture(_) if registers == 0 => TemplateOp::Lit(ConstId(0)),
                TemplateOp::Capture(r) => TemplateOp::Capture(r % registers),
            };
        }
    }
}
