//! A small plan for unit tests: one request, one open-model phase.

use ptl_bytecode::{
    Arrivals, ConstId, Load, Method, Overflow, Phase, Plan, Request, Scenario, Step, Template,
    TemplateOp,
};

/// One request, one `rate 100/s` phase of `seconds`.
pub fn plan(seconds: u64) -> Plan {
    Plan {
        name: "windows".into(),
        target: "http://127.0.0.1:9".into(),
        timeout_us: 1_000_000,
        connections: 1,
        seed: 1,
        max_inflight: 10,
        overflow: Overflow::Drop,
        http: ptl_bytecode::HttpVersion::Http1,
        params: vec![],
        consts: vec![b"/".to_vec()],
        datasets: vec![],
        vars: vec![],
        headers: vec![],
        scenarios: vec![Scenario {
            name: "home".into(),
            weight: 1,
            single_request: true,
            cookies: false,
            registers: 0,
            steps: vec![Step::Request(Request {
                name: "home".into(),
                method: Method::Get,
                path: Template {
                    ops: vec![TemplateOp::Lit(ConstId(0))],
                },
                headers: vec![],
                body: None,
                expects: vec![],
                captures: vec![],
            })],
        }],
        phases: vec![Phase {
            name: "steady".into(),
            load: Load::Rate {
                per_sec: 100.0,
                duration_us: seconds * 1_000_000,
            },
            arrivals: Arrivals::Uniform,
            max_inflight: None,
            overflow: None,
            injections: vec![],
            mix: None,
        }],
        thresholds: vec![],
    }
}
