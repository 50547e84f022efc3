//! What the crate's unit tests share: the plan they open runs with (one request, one 100 s
//! phase at 10/s), and a second of answers fed to a hub.

use crate::hub::Hub;
use ptl_bytecode::plan::Plan;
use ptl_engine::record::{IntervalDelta, Outcome, Recorded, Timing};
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

/// Second `window` of run `id`: `n` answers of `response_us` in the first phase of a plan of
/// `phases` phases (and one request), then the once-a-second tick.
pub(crate) fn answered_second(
    hub: &Hub,
    id: &str,
    window: u64,
    n: u64,
    response_us: u64,
    phases: usize,
) {
    let mut rec = Recorded::new(phases, 1, 1);
    for _ in 0..n {
        rec.started(0);
        let timing = Timing {
            response_us,
            service_us: response_us,
            lag_us: 0,
        };
        rec.exchange(0, 0, Some(timing), Outcome::Success { status: 200 });
    }
    let delta = IntervalDelta {
        agent: 0,
        window,
        recorded: rec,
    };
    hub.add_delta(id, &delta).expect("same shape");
    hub.tick(id);
}
