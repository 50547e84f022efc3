//! Thresholds as JUnit XML (`--junit`), so CI systems show each threshold as a test case.
//!
//! One `<testsuite name="ptl thresholds">` with one `<testcase>` per threshold; a failed
//! threshold carries a `<failure>` with the measured value, a passed one reports it in
//! `<system-out>`. Run metadata goes in `<properties>`; the suite's own `<system-out>` has a
//! line per phase (planned, requests, errors, dropped, and any iterations a `unique` feeder
//! had no row for), so what was not sent is on the CI page too.

use crate::units::{exhausted_text, format_actual};
use ptl_engine::result::{RunResult, ThresholdResult};
use std::fmt::Write;

pub const SUITE_NAME: &str = "ptl thresholds";

pub fn render_junit(result: &RunResult) -> String {
    let tests = result.thresholds.len();
    let failures = result.thresholds.iter().filter(|t| !t.passed).count();
    let time = seconds(result.duration_s);
    let mut xml = String::with_capacity(512 + 256 * tests);
    xml.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // `write!` into a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        xml,
        "<testsuites name=\"ptl\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" time=\"{time}\">"
    );
    let _ = writeln!(
        xml,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{time}\" timestamp=\"{}\">",
        escape(SUITE_NAME),
        escape(&result.started_at),
    );
    write_properties(&mut xml, result);
    let classname = format!("ptl.{}", result.plan);
    for threshold in &result.thresholds {
        write_testcase(&mut xml, &classname, threshold);
    }
    write_phases(&mut xml, result);
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

fn write_properties(xml: &mut String, result: &RunResult) {
    let mut properties: Vec<(String, String)> = vec![
        ("plan".into(), result.plan.clone()),
        ("plan_hash".into(), result.plan_hash.clone()),
        ("ptl_version".into(), result.ptl_version.clone()),
        ("target".into(), result.target.clone()),
        ("seed".into(), result.seed.to_string()),
        ("stopped_early".into(), result.stopped_early.to_string()),
    ];
    if let Some(reason) = &result.stop_reason {
        properties.push(("stop_reason".into(), reason.clone()));
    }
    properties.extend(
        result
            .params
            .iter()
            .map(|(name, value)| (format!("param.{name}"), value.clone())),
    );
    xml.push_str("    <properties>\n");
    for (name, value) in properties {
        let _ = writeln!(
            xml,
            "      <property name=\"{}\" value=\"{}\"/>",
            escape(&name),
            escape(&value)
        );
    }
    xml.push_str("    </properties>\n");
}

/// The phases' counts as the suite's output, a line each, so a CI page shows what was sent
/// beside the verdicts: above all what was not (dropped, exhausted).
fn write_phases(xml: &mut String, result: &RunResult) {
    if result.phases.is_empty() {
        return;
    }
    let lines: Vec<String> = result
        .phases
        .iter()
        .map(|p| {
            let mut line = format!(
                "phase {}: {} planned, {} requests, {} errors, {} dropped",
                p.name, p.planned, p.request_count, p.errors, p.dropped
            );
            if p.exhausted > 0 {
                let _ = write!(line, "; {}", exhausted_text(p.exhausted));
            }
            line
        })
        .collect();
    let _ = writeln!(
        xml,
        "    <system-out>{}</system-out>",
        escape(&lines.join("\n"))
    );
}

fn write_testcase(xml: &mut String, classname: &str, threshold: &ThresholdResult) {
    let actual = format_actual(&threshold.expr, threshold.actual);
    let raw = threshold
        .actual
        .map_or_else(|| "none".to_string(), |v| v.to_string());
    let _ = write!(
        xml,
        "    <testcase name=\"{}\" classname=\"{}\" time=\"0\">",
        escape(&threshold.expr),
        escape(classname)
    );
    let details = format!(
        "threshold: {}\nactual: {actual} (raw value {raw})\nabort: {}",
        threshold.expr,
        if threshold.abort { "yes" } else { "no" }
    );
    if threshold.passed {
        let _ = write!(xml, "\n      <system-out>{}</system-out>", escape(&details));
    } else {
        let message = format!("{} failed: actual {actual}", threshold.expr);
        let _ = write!(
            xml,
            "\n      <failure message=\"{}\" type=\"threshold\">{}</failure>",
            escape(&message),
            escape(&details)
        );
    }
    xml.push_str("\n    </testcase>\n");
}

fn seconds(duration_s: f64) -> String {
    if duration_s.is_finite() && duration_s >= 0.0 {
        format!("{duration_s:.3}")
    } else {
        "0".to_string()
    }
}

/// Escapes text for both attribute values and element content. Characters XML 1.0 cannot
/// carry at all (most control characters) become U+FFFD; line breaks and tabs are written as
/// character references so attribute values keep them.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}
