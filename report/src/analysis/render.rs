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
