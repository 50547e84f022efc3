//! Runs the chart script's own tests (`charts.test.js`) with Node's test runner, so `cargo
//! test` covers the JavaScript that draws the report's charts.

use std::path::Path;
use std::process::Command;

#[test]
fn chart_script_tests_pass_under_node() {
    let tests = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/html/charts.test.js");
    let output = Command::new("node")
        .arg("--test")
        .arg(&tests)
        .output()
        .unwrap_or_else(|e| {
            // Never skipped silently: a missing Node.js fails here with the way to install it.
            panic!(
                "the chart-script test needs Node.js (`node`: {e}): \
                 apt-get install -y nodejs (scripts/test installs it)"
            )
        });
    assert!(
        output.status.success(),
        "node --test {} failed:\n{}\n{}",
        tests.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
