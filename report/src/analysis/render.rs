//! The analysis as people read it (a table of steps, then the verdicts) and as tools read it
//! (JSON, documented in docs/analysis.md).

use super::{Analysis, JudgedStep};
use crate::units::{format_ms, format_rps, format_share};
use comfy_table::{presets, CellAlignment, Table};
use std::fmt::Write;

/// The text form: steps, SLOs, knee, model, prediction, notes.
pub fn text(analysis: &Analysis) -> String {
    let mut out = String::new();
    out.push_str(&step_table(&analysis.steps).to_string());
    out.push('\n');
    // `write!` into a String cannot fail; the results are ignored for that reason.
    for slo in &analysis.slos {
        let verdict = match (slo.broke_at_rps, slo.value_at_break) {
            (Some(rps), Some(value)) => format!(
                "broke at {} ({}), held up to {}",
                format_rps(rps),
                slo.metric.format(value),
                slo.held_up_to_rps.map_or("no step".to_string(), format_rps)
            ),
            _ => "held at every step".to_string(),
        };
        let _ = writeln!(out, "SLO {}: {verdict}", slo.slo);
    }
    let knee = match (analysis.knee_rps, analysis.knee_target_rps) {
        (Some(rps), Some(target)) => format!(
            "{} (step planned at {})",
            format_rps(rps),
            format_rps(target)
        ),
        _ => "none (see the notes)".to_string(),
    };
    let _ = writeln!(out, "knee: {knee}");
    match &analysis.model {
        Some(model) => {
            let capacity = model
                .capacity_rps
                .map_or("no curvature in the data".to_string(), format_rps);
            let _ = writeln!(
                out,
                "model: p99 = {:.1} ms + {:.0} / (capacity - rate), capacity {capacity}, \
                 residual RMS {} over {} steps",
                model.base_ms,
                model.scale,
                format_ms(model.rms_ms),
                model.points
            );
        }
        None => {
            let _ = writeln!(out, "model: none");
        }
    }
    if let Some(prediction) = &analysis.prediction {
        let line = match prediction.p99_ms {
            Some(p99) => format!(
                "{} (range {} to {})",
                format_ms(p99),
                prediction.low_ms.map_or("-".to_string(), format_ms),
                prediction
                    .high_ms
                    .map_or("unbounded".to_string(), format_ms)
            ),
            None => "beyond the fitted capacity: the queue grows without bound".to_string(),
        };
        let _ = writeln!(
            out,
            "predicted p99 at {}: {line}",
            format_rps(prediction.at_rps)
        );
    }
    for note in &analysis.notes {
        let _ = writeln!(out, "note: {note}");
    }
    out
}

/// One line on what the run says of the target's capacity (how `ptl demo` ends): the knee and
/// the SLO that broke above it, or which end of the tested rates the knee lies beyond. It claims
/// no knee the data does not show.
pub fn capacity_line(analysis: &Analysis) -> String {
    let all: Vec<&str> = analysis.slos.iter().map(|s| s.slo.as_str()).collect();
    let slos = all.join(", ");
    let broke = |at: f64| -> String {
        let which: Vec<&str> = analysis
            .slos
            .iter()
            .filter(|s| s.broke_at_rps == Some(at))
            .map(|s| s.slo.as_str())
            .collect();
        which.join(", ")
    };
    match (analysis.knee_rps, analysis.first_break_rps) {
        (Some(knee), Some(at)) => format!(
            "capacity, step by step: every SLO ({slos}) held up to {}, the knee; {} broke at {}",
            format_rps(knee),
            broke(at),
            format_rps(at)
        ),
        (_, Some(at)) => format!(
            "capacity, step by step: {} failed already at {}, the slowest rate of this run: the \
             knee is below it",
            broke(at),
            format_rps(at)
        ),
        (_, None) => {
            let fastest = analysis
                .steps
                .iter()
                .max_by(|a, b| a.step.target_rps.total_cmp(&b.step.target_rps))
                .map_or(0.0, |s| s.step.achieved_rps);
            format!(
                "capacity, step by step: every SLO ({slos}) held up to {}, the fastest rate of \
                 this run: the knee is above it",
                format_rps(fastest)
            )
        }
    }
}

/// The JSON form.
pub fn json(analysis: &Analysis) -> String {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_string_pretty(analysis).unwrap_or_default()
}

fn step_table(steps: &[JudgedStep]) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header([
        "seconds", "target", "achieved", "p50", "p95", "p99", "errors", "SLOs",
    ]);
    for judged in steps {
        let step = &judged.step;
        let verdict = if judged.held {
            "held".to_string()
        } else {
            format!("broke: {}", judged.broken.join(", "))
        };
        table.add_row([
            format!("{}-{}", step.from_s, step.to_s),
            format_rps(step.target_rps),
            format_rps(step.achieved_rps),
            format_ms(step.p50_ms),
            format_ms(step.p95_ms),
            format_ms(step.p99_ms),
            format_share(step.error_rate),
            verdict,
        ]);
    }
    for column in 1..7 {
        if let Some(c) = table.column_mut(column) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::super::analyze;
    use super::super::slo::Slo;
    use super::super::tests::queue_run;
    use super::*;

    fn line(slos: &[&str]) -> String {
        let slos: Vec<Slo> = slos.iter().map(|s| Slo::parse(s).expect("valid")).collect();
        capacity_line(&analyze(&queue_run(), &slos, None).expect("analyses"))
    }

    #[test]
    fn the_capacity_line_names_the_knee_only_where_the_data_shows_one() {
        assert_eq!(
            line(&["p99 < 50ms", "error_rate < 1%"]),
            "capacity, step by step: every SLO (p99 < 50.0 ms, error_rate < 1.00%) held up to \
             600/s, the knee; p99 < 50.0 ms broke at 700/s"
        );
        assert_eq!(
            line(&["p99 < 10s"]),
            "capacity, step by step: every SLO (p99 < 10000 ms) held up to 1000/s, the fastest \
             rate of this run: the knee is above it"
        );
        assert_eq!(
            line(&["p99 < 1ms"]),
            "capacity, step by step: p99 < 1.00 ms failed already at 100/s, the slowest rate of \
             this run: the knee is below it"
        );
    }
}
