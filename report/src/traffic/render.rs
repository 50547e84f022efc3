//! `ptl compare`'s output: a table of the dimensions with a plain verdict each, then the
//! largest differences in words; or the [`Comparison`] as JSON.

use super::compare::{Comparison, Difference, Dimension, Test, Verdict};
use std::fmt::Write;

/// The comparison as pretty JSON.
pub fn json(c: &Comparison) -> String {
    serde_json::to_string_pretty(c).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

fn side(name: &str, s: &super::compare::Side) -> String {
    let mut line = format!(
        "{name:<9} {} log, {} requests over {:.1} s ({:.1}/s)",
        s.format, s.requests, s.duration_s, s.mean_rps
    );
    if s.unreadable_lines > 0 {
        let _ = write!(line, ", {} unreadable lines skipped", s.unreadable_lines);
    }
    if let Some(d) = s.dropped_lines.filter(|&d| d > 0) {
        let _ = write!(line, ", {d} lines DROPPED by its writer");
    }
    line
}

fn verdict_text(d: &Dimension) -> String {
    match (&d.verdict, &d.test) {
        (Verdict::Alike, _) => "alike".into(),
        (Verdict::Differs, _) => "DIFFERS".into(),
        (Verdict::Skipped, Test::None { reason }) => format!("not compared: {reason}"),
        (Verdict::Skipped, _) => "not compared".into(),
    }
}

fn number(x: f64) -> String {
    if x == 0.0 {
        "0".into()
    } else if x.abs() < 1e-4 {
        format!("{x:.1e}")
    } else if x.abs() >= 100.0 || x.fract() == 0.0 {
        format!("{x:.0}")
    } else if x.abs() >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.4}")
    }
}

/// How one difference reads: `GET /search is 12.0% of baseline, 30.0% of test`.
pub fn difference_text(d: &Difference) -> String {
    match d.unit {
        "share" => format!(
            "{} is {:.1}% of baseline, {:.1}% of test",
            d.what,
            d.baseline * 100.0,
            d.test * 100.0
        ),
        unit => format!(
            "{} is {} {unit} in baseline, {} {unit} in test",
            d.what,
            number(d.baseline),
            number(d.test)
        ),
    }
}

/// The table and the largest differences.
pub fn text(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", side("baseline", &c.baseline));
    let _ = writeln!(out, "{}", side("test", &c.test));
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{:<16} {:<11} {:>10} {:>10}  verdict (alpha {})",
        "dimension", "test", "statistic", "p-value", c.alpha
    );
    for d in &c.dimensions {
        let (test, statistic) = match &d.test {
            Test::Ks(k) => ("KS".to_string(), number(k.statistic)),
            Test::ChiSquare(x) => (format!("chi² ({} df)", x.dof), number(x.statistic)),
            Test::None { .. } => ("-".to_string(), "-".to_string()),
        };
        let p = d.test.p_value().map_or("-".into(), number);
        let _ = writeln!(
            out,
            "{:<16} {:<11} {:>10} {:>10}  {}",
            d.name,
            test,
            statistic,
            p,
            verdict_text(d)
        );
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "largest differences:");
    for d in &c.dimensions {
        // Two per dimension: the table says which dimensions matter.
        for diff in d.differences.iter().take(2) {
            let _ = writeln!(out, "  {:<16} {}", d.name, difference_text(diff));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "{}",
        if c.differs() {
            "the test traffic differs from the baseline (exit 1)"
        } else {
            "no dimension differs at this alpha"
        }
    );
    out
}
