//! What `ptl check` accepts, `ptl run` can send: every literal request path the compiler
//! accepts loads into the engine's VM (which parses it as the request line it sends).

use proptest::prelude::*;
use ptl_compiler::{check_source, CheckOptions};
use ptl_engine::vm::{AgentShare, Program};
use std::path::Path;

fn plan_with_path(path: &str) -> String {
    format!(
        "plan \"paths\" {{\n  target \"http://127.0.0.1:9/api\"\n  request r {{ GET \"{path}\" }}\n  phase main {{ rate 1/s for 1s }}\n}}\n"
    )
}

fn check(path: &str) -> Option<ptl_bytecode::Plan> {
    let options = CheckOptions {
        params: Vec::new(),
        resolver: None,
        ..Default::default()
    };
    check_source(Path::new("paths.ptl"), &plan_with_path(path), &options).plan
}

fn engine_loads(plan: &ptl_bytecode::Plan) -> Result<(), String> {
    Program::new(plan, AgentShare::solo())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn a_space_in_a_path_is_refused_by_check_not_by_the_run() {
    // Before E0063, this checked clean and every request of the run failed.
    assert!(check("/search?q=a b").is_none());
    let encoded = check("/search?q=a%20b").expect("an encoded path checks clean");
    engine_loads(&encoded).expect("and the engine sends it");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn every_path_check_accepts_is_one_the_engine_can_send(
        // Printable ASCII and a few others, without what the string literal itself would
        // interpret (quotes, backslashes, template braces).
        path in proptest::string::string_regex(r#"/[ !#-\[\]-z|~\x01\x7fé%?&=/]{0,24}"#).expect("regex")
    ) {
        if let Some(plan) = check(&path) {
            prop_assert!(engine_loads(&plan).is_ok(), "check accepted {path:?}, the engine refused it: {:?}", engine_loads(&plan));
        }
        // The same path behind an absolute URL: a host of its own, and still sendable.
        let absolute = format!("http://127.0.0.1:8{path}");
        if let Some(plan) = check(&absolute) {
            prop_assert_eq!(plan.hosts.len(), 1);
            prop_assert_eq!(plan.hosts[0].url.as_str(), "http://127.0.0.1:8");
            prop_assert!(engine_loads(&plan).is_ok(), "check accepted {absolute:?}, the engine refused it: {:?}", engine_loads(&plan));
        }
    }
}
