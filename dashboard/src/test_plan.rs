//! The plan the crate's unit tests open runs with: one request, one 100 s phase at 10/s.

use ptl_bytecode::plan::Plan;
use std::sync::Arc;

pub(crate) fn plan() -> Arc<Plan> {
    let source = r#"plan "p" {
  target "http://127.0.0.1:9"
  request a { GET "/" }
  phase one { rate 10/s for 100s }
}"#;
    let checked = ptl_compiler::check_source(
        std::path::Path::new("p.ptl"),
        source,
        &ptl_compiler::CheckOptions::default(),
    );
    Arc::new(checked.plan.expect("the test plan compiles"))
}
