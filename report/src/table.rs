//! The end-of-run text summary: one table per phase, per request and per scenario, then the
//! thresholds marked PASS/FAIL. Latencies are response times (measured from the planned send
//! time, so they include any lag of the generator).

use crate::units::{
    format_actual, format_count_share, format_duration_s, format_ms, format_rps, format_share,
    or_no_data,
};
use anstyle::{AnsiColor, Style};
use comfy_table::{presets, CellAlignment, Table};
use ptl_engine::result::{
    GroupResult, Latency, PhaseResult, RequestResult, RunResult, ScenarioResult,
};
use std::fmt::Write;

const LATENCY_HEADERS: [&str; 4] = ["p50", "p95", "p99", "max"];

/// Renders the summary; `color` adds ANSI styles (PASS green, FAIL red, headings bold).
pub fn render_summary(result: &RunResult, color: bool) -> String {
    let paint = Paint { color };
    let mut out = String::new();
    // `write!` into a String cannot fail; the results are ignored for that reason.
    let _ = writeln!(
        out,
        "{}",
        paint.apply(
            BOLD,
            &format!(
                "ptl run \"{}\": {} against {} (seed {})",
                result.plan,
                format_duration_s(result.duration_s),
                result.target,
                result.seed
            )
        )
    );
    if result.stopped_early {
        let reason = result.stop_reason.as_deref().unwrap_or("no reason given");
        let _ = writeln!(
            out,
            "{}",
            paint.apply(WARN, &format!("stopped early: {reason}"))
        );
    }

    write_accounting(&mut out, &paint, result);
    write_bottleneck(&mut out, &paint, result);

    heading(&mut out, &paint, "Phases");
    out.push_str(&phase_table(result).to_string());
    out.push('\n');
    write_pauses(&mut out, result);
    write_exhausted(&mut out, result);

    write_outcome_breakdown(&mut out, &paint, result);

    if result.phases.iter().any(|p| !p.requests.is_empty()) {
        heading(&mut out, &paint, "Requests");
        out.push_str(&request_table(&result.phases).to_string());
        out.push('\n');
    }

    if !result.hosts.is_empty() {
        heading(&mut out, &paint, "Hosts");
        let rows = result
            .hosts
            .iter()
            .map(|h| (vec![h.name.clone(), h.url.clone()], &h.stats));
        out.push_str(&group_table(&["host", "url"], rows).to_string());
        out.push('\n');
    }

    if !result.tags.is_empty() {
        heading(&mut out, &paint, "Tags");
        let rows = result
            .tags
            .iter()
            .map(|t| (vec![t.key.clone(), t.value.clone()], &t.stats));
        out.push_str(&group_table(&["tag", "value"], rows).to_string());
        out.push('\n');
    }

    if result.phases.iter().any(|p| !p.scenarios.is_empty()) {
        heading(&mut out, &paint, "Scenarios (iteration time)");
        out.push_str(&scenario_table(&result.phases).to_string());
        out.push('\n');
        out.push_str(SCENARIO_LEGEND);
    }

    write_thresholds(&mut out, &paint, result);
    out
}

const BOLD: Style = Style::new().bold();
const PASS: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Green)));
const FAIL: Style = Style::new()
    .fg_color(Some(anstyle::Color::Ansi(AnsiColor::Red)))
    .bold();
const WARN: Style = Style::new().fg_color(Some(anstyle::Color::Ansi(AnsiColor::Yellow)));

struct Paint {
    color: bool,
}

impl Paint {
    fn apply(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
}

fn heading(out: &mut String, paint: &Paint, title: &str) {
    let _ = writeln!(out, "\n{}", paint.apply(BOLD, title));
}

fn new_table(headers: &[&str], right_aligned_from: usize) -> Table {
    let mut table = Table::new();
    table.load_preset(presets::UTF8_FULL_CONDENSED);
    table.set_header(headers.to_vec());
    for index in right_aligned_from..headers.len() {
        if let Some(column) = table.column_mut(index) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
    table
}

fn latency_cells(latency: &Latency) -> [String; 4] {
    [
        format_ms(latency.p50),
        format_ms(latency.p95),
        format_ms(latency.p99),
        format_ms(latency.max),
    ]
}

fn phase_table(result: &RunResult) -> Table {
    let mut headers = vec![
        "phase", "target", "achieved", "requests", "errors", "dropped",
    ];
    headers.extend(LATENCY_HEADERS);
    let mut table = new_table(&headers, 1);
    for phase in &result.phases {
        table.add_row(phase_row(phase));
    }
    let total = &result.total;
    let mut row = vec![
        "all".to_string(),
        "-".to_string(),
        format_rps(total.achieved_rps),
        total.requests.to_string(),
        format_count_share(total.errors, total.requests),
        format_count_share(total.dropped, total.requests + total.dropped),
    ];
    row.extend(latency_cells(&or_no_data(&total.response_time_ms)));
    table.add_row(row);
    table
}

fn phase_row(phase: &PhaseResult) -> Vec<String> {
    // Pause and closed (`users`) phases have no planned rate.
    let target = if phase.target_rps > 0.0 {
        format_rps(phase.target_rps)
    } else {
        "-".to_string()
    };
    let mut row = vec![
        phase.name.clone(),
        target,
        format_rps(phase.achieved_rps),
        phase.request_count.to_string(),
        format_count_share(phase.errors, phase.request_count),
        format_count_share(phase.dropped, phase.planned),
    ];
    row.extend(latency_cells(&or_no_data(&phase.response_time_ms)));
    row
}

fn request_table(phases: &[PhaseResult]) -> Table {
    let mut headers = vec![
        "phase", "request", "achieved", "requests", "errors", "dropped",
    ];
    headers.extend(LATENCY_HEADERS);
    let mut table = new_table(&headers, 2);
    for phase in phases {
        for request in &phase.requests {
            table.add_row(request_row(&phase.name, request));
        }
    }
    table
}

fn request_row(phase: &str, request: &RequestResult) -> Vec<String> {
    let mut row = vec![
        phase.to_string(),
        request.name.clone(),
        format_rps(request.achieved_rps),
        request.requests.to_string(),
        format_count_share(request.errors, request.requests),
        format_count_share(request.dropped, request.requests + request.dropped),
    ];
    row.extend(latency_cells(&or_no_data(&request.response_time_ms)));
    row
}

/// A table of requests grouped over the whole run (by host, by tag): `names` head the
/// columns that name a row.
fn group_table<'a>(
    names: &[&str],
    rows: impl Iterator<Item = (Vec<String>, &'a GroupResult)>,
) -> Table {
    let mut headers = names.to_vec();
    headers.extend(["requests", "errors", "dropped"]);
    headers.extend(LATENCY_HEADERS);
    let mut table = new_table(&headers, names.len());
    for (mut row, g) in rows {
        row.extend([
            g.requests.to_string(),
            format_count_share(g.errors, g.requests),
            format_count_share(g.dropped, g.requests + g.dropped),
        ]);
        row.extend(latency_cells(&or_no_data(&g.response_time_ms)));
        table.add_row(row);
    }
    table
}

/// What the scenario columns count, since "completed" alone read as a share of every iteration
/// while the `completion_rate` threshold judges finished ones.
const SCENARIO_LEGEND: &str = concat!(
    "  started = iterations begun; cut short = neither completed nor failed (stopped by an ",
    "injected fault or the run's end);\n",
    "  completion = completed / (completed + failed), what the completion_rate threshold judges\n",
);

fn scenario_table(phases: &[PhaseResult]) -> Table {
    let mut headers = vec![
        "phase",
        "scenario",
        "started",
        "completed",
        "failed",
        "cut short",
        "completion",
        "dropped",
    ];
    headers.extend(LATENCY_HEADERS);
    let mut table = new_table(&headers, 2);
    for phase in phases {
        for scenario in &phase.scenarios {
            table.add_row(scenario_row(&phase.name, scenario));
        }
    }
    table
}

fn scenario_row(phase: &str, scenario: &ScenarioResult) -> Vec<String> {
    let finished = scenario.completed + scenario.failed;
    let completion = if finished == 0 {
        "-".to_string()
    } else {
        format_share(scenario.completed as f64 / finished as f64)
    };
    let mut row = vec![
        phase.to_string(),
        scenario.name.clone(),
        scenario.iterations.to_string(),
        scenario.completed.to_string(),
        scenario.failed.to_string(),
        scenario.iterations.saturating_sub(finished).to_string(),
        completion,
        scenario.dropped.to_string(),
    ];
    row.extend(latency_cells(&or_no_data(&scenario.iteration_time_ms)));
    row
}

/// A cluster run's account of the plan's arrivals, and in warning colours why it is degraded.
fn write_accounting(out: &mut String, paint: &Paint, result: &RunResult) {
    let Some(a) = &result.accounting else {
        return;
    };
    if a.degraded {
        let _ = writeln!(
            out,
            "{}",
            paint.apply(WARN, "DEGRADED: this run lost part of its load or data")
        );
        for reason in &a.reasons {
            let _ = writeln!(out, "{}", paint.apply(WARN, &format!("  - {reason}")));
        }
    }
    let _ = writeln!(
        out,
        "arrivals: {} planned, {} in the agents' reports ({} of them held back: an agent without its lease), about {} sent but never reported, {} sent by no agent",
        a.planned, a.reported, a.fenced, a.unreported, a.lost_share
    );
}

/// Who could not keep up, when the run fell short: users misread a generator's limit as the
/// service's, so the summary says which it was (`result::generator`).
fn write_bottleneck(out: &mut String, paint: &Paint, result: &RunResult) {
    // Arrivals held back by agents without their lease are dropped too, but neither the
    // target's doing nor the generator's: the accounting names them.
    let fenced = result.accounting.as_ref().map_or(0, |a| a.fenced);
    let Some(line) = result
        .generator
        .as_ref()
        .and_then(|g| g.bottleneck(result.total.dropped.saturating_sub(fenced)))
    else {
        return;
    };
    let _ = writeln!(out, "{}", paint.apply(WARN, &line));
}

/// A note per phase that was paused: its rates are over the time it ran, not its span.
fn write_pauses(out: &mut String, result: &RunResult) {
    for phase in result.phases.iter().filter(|p| p.paused_ms > 0) {
        let paused = phase.paused_ms as f64 / 1000.0;
        let _ = writeln!(
            out,
            "  {}: paused {} of {} (rates over the {} it ran)",
            phase.name,
            format_duration_s(paused),
            format_duration_s(phase.duration_s),
            format_duration_s((phase.duration_s - paused).max(0.0)),
        );
    }
    if result.pauses.last().is_some_and(|p| p.end_ms.is_none()) {
        let _ = writeln!(out, "  stopped while paused");
    }
}

/// Iterations a `unique` feeder had no row for: not sent, and not hidden among the drops.
fn write_exhausted(out: &mut String, result: &RunResult) {
    for phase in result.phases.iter().filter(|p| p.exhausted > 0) {
        let _ = writeln!(
            out,
            "  {}: {}",
            phase.name,
            crate::units::exhausted_text(phase.exhausted)
        );
    }
}

/// Errors by class and injected faults by kind, per phase: the table's counts say how many,
/// this says why (and keeps injected requests visibly apart from organic failures).
fn write_outcome_breakdown(out: &mut String, paint: &Paint, result: &RunResult) {
    let join = |counts: &std::collections::BTreeMap<String, u64>| {
        counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let lines: Vec<String> = result
        .phases
        .iter()
        .filter_map(|phase| {
            let errors = join(&phase.errors_by_class);
            let injected = join(&phase.injected);
            let mut parts = Vec::new();
            if !errors.is_empty() {
                parts.push(format!("errors: {errors}"));
            }
            if !injected.is_empty() {
                parts.push(format!("injected (not counted as errors): {injected}"));
            }
            (!parts.is_empty()).then(|| format!("  {}: {}", phase.name, parts.join("; ")))
        })
        .collect();
    if !lines.is_empty() {
        heading(out, paint, "Errors and injected faults");
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
}

fn write_thresholds(out: &mut String, paint: &Paint, result: &RunResult) {
    let failed = result.thresholds.iter().filter(|t| !t.passed).count();
    let passed = result.thresholds.len() - failed;
    if result.thresholds.is_empty() {
        heading(out, paint, "Thresholds: none");
        return;
    }
    heading(
        out,
        paint,
        &format!("Thresholds: {passed} passed, {failed} failed"),
    );
    let width = result
        .thresholds
        .iter()
        .map(|t| t.expr.chars().count())
        .max()
        .unwrap_or(0);
    for threshold in &result.thresholds {
        let mark = if threshold.passed {
            paint.apply(PASS, "PASS")
        } else {
            paint.apply(FAIL, "FAIL")
        };
        let abort = if threshold.abort { "  (abort)" } else { "" };
        let _ = writeln!(
            out,
            "  {mark}  {:<width$}  actual {}{abort}",
            threshold.expr,
            format_actual(&threshold.expr, threshold.actual),
        );
    }
}
