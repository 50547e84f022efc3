//! The JSON the chart script draws from: the per-second series and each phase's latency
//! percentiles. A live dashboard can feed `charts.js` the same shape.

use ptl_engine::result::{Latency, RunResult, SeriesPoint};
use serde::Serialize;

#[derive(Serialize)]
struct ChartData<'a> {
    series: &'a [SeriesPoint],
    phases: Vec<PhaseChart<'a>>,
    /// Stretches shaded on the charts: a cluster run's degraded windows, the run's pauses.
    marks: Vec<Mark>,
}

#[derive(Serialize)]
struct Mark {
    kind: &'static str,
    label: String,
    start_s: f64,
    end_s: Option<f64>,
}

#[derive(Serialize)]
struct PhaseChart<'a> {
    name: &'a str,
    duration_s: f64,
    target_rps: f64,
    /// `null` for a phase without a sample: its chart line is left out.
    latency: Option<&'a Latency>,
}

/// The chart data as JSON that can sit inside a `<script>` element: `<`, `>` and `&` are
/// written as `\u` escapes (JSON allows them only inside strings, where the escape means the
/// same), so no value can close the element or open a comment.
pub fn chart_data_json(result: &RunResult) -> String {
    let data = ChartData {
        series: &result.series,
        phases: result
            .phases
            .iter()
            .map(|phase| PhaseChart {
                name: &phase.name,
                duration_s: phase.duration_s,
                target_rps: phase.target_rps,
                latency: phase.response_time_ms.as_ref(),
            })
            .collect(),
        marks: result
            .degraded
            .iter()
            .map(|w| Mark {
                kind: "degraded",
                label: format!("{} lost (epoch {})", w.agent, w.epoch),
                start_s: w.from_s,
                end_s: w.until_s,
            })
            .chain(result.pauses.iter().map(|p| Mark {
                kind: "paused",
                label: "paused".to_string(),
                start_s: p.start_ms as f64 / 1000.0,
                end_s: p.end_ms.map(|ms| ms as f64 / 1000.0),
            }))
            .collect(),
    };
    // serde_json writes non-finite floats as null, and our types cannot fail otherwise.
    let json = serde_json::to_string(&data).unwrap_or_else(|_| "{}".to_string());
    script_safe(&json)
}

fn script_safe(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        match c {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn script_safe_json_means_the_same_and_cannot_close_a_script(text in ".*") {
            let json = serde_json::to_string(&text).expect("strings serialise");
            let safe = script_safe(&json);
            prop_assert!(!safe.contains('<'));
            prop_assert!(!safe.contains('>'));
            let back: String = serde_json::from_str(&safe).expect("still JSON");
            prop_assert_eq!(back, text);
        }
    }
}
