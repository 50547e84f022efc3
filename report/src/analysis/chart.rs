//! The analysis as a picture (`ptl analyze --report`): each step's p99 against its rate, the
//! fitted curve, the p99 SLOs and the knee, drawn as inline SVG in a self-contained HTML page
//! (no script, nothing fetched).

use super::slo::Metric;
use super::Analysis;
use crate::units::{format_ms, format_rps};
use std::fmt::Write;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 380.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 20.0;
const BOTTOM: f64 = 50.0;
const TICKS: usize = 5;
const CURVE_SAMPLES: usize = 120;

/// A page holding the chart and the text analysis.
pub fn html(analysis: &Analysis, title: &str) -> String {
    let mut page = String::new();
    let _ = write!(
        page,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}pre{{font-size:12px}}</style>\
         </head><body><h1>{t}</h1>\n{svg}\n<pre>{text}</pre></body></html>\n",
        t = escape(title),
        svg = svg(analysis),
        text = escape(&super::render::text(analysis)),
    );
    page
}

/// The chart: p99 (y) against achieved rate (x).
pub fn svg(analysis: &Analysis) -> String {
    let steps = &analysis.steps;
    let rates = steps.iter().map(|s| s.step.achieved_rps);
    let x_min = rates.clone().fold(f64::INFINITY, f64::min) * 0.95;
    let x_max = rates.fold(0.0, f64::max) * 1.05;
    let limits: Vec<f64> = analysis
        .slos
        .iter()
        .filter(|s| s.metric == Metric::P99)
        .map(|s| s.limit)
        .collect();
    let y_max = steps
        .iter()
        .map(|s| s.step.p99_ms)
        .chain(limits.iter().copied())
        .fold(0.0, f64::max)
        * 1.1;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         font-size=\"11\" role=\"img\" aria-label=\"p99 against rate\">"
    );
    if !(x_max > x_min && x_min.is_finite() && y_max > 0.0) {
        out.push_str("<text x=\"10\" y=\"20\">no steps to draw</text></svg>");
        return out;
    }
    let x = |rps: f64| LEFT + (rps - x_min) / (x_max - x_min) * (WIDTH - LEFT - RIGHT);
    let y = |ms: f64| HEIGHT - BOTTOM - ms / y_max * (HEIGHT - TOP - BOTTOM);

    // Axes and ticks.
    let _ = write!(
        out,
        "<g stroke=\"#444\"><line x1=\"{LEFT}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\"/>\
         <line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{b}\"/></g>",
        b = HEIGHT - BOTTOM,
        r = WIDTH - RIGHT,
    );
    for i in 0..=TICKS {
        let share = i as f64 / TICKS as f64;
        let rps = x_min + share * (x_max - x_min);
        let ms = share * y_max;
        let _ = write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            x(rps),
            HEIGHT - BOTTOM + 16.0,
            escape(&format_rps(rps)),
            LEFT - 6.0,
            y(ms) + 4.0,
            escape(&format_ms(ms)),
        );
    }
    let _ = write!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">achieved rate</text>\
         <text x=\"14\" y=\"{:.1}\" transform=\"rotate(-90 14 {:.1})\" \
         text-anchor=\"middle\">p99</text>",
        (LEFT + WIDTH - RIGHT) / 2.0,
        HEIGHT - 8.0,
        HEIGHT / 2.0,
        HEIGHT / 2.0,
    );

    // SLO limits and the knee.
    for limit in &limits {
        let _ = write!(
            out,
            "<line class=\"slo\" x1=\"{LEFT}\" y1=\"{v:.1}\" x2=\"{r}\" y2=\"{v:.1}\" \
             stroke=\"#c62828\" stroke-dasharray=\"6 4\"/>",
            v = y(*limit),
            r = WIDTH - RIGHT,
        );
    }
    if let Some(knee) = analysis.knee_rps {
        let _ = write!(
            out,
            "<line class=\"knee\" x1=\"{k:.1}\" y1=\"{TOP}\" x2=\"{k:.1}\" y2=\"{b}\" \
             stroke=\"#1565c0\" stroke-dasharray=\"2 3\"/>\
             <text x=\"{t:.1}\" y=\"{ty}\" fill=\"#1565c0\">knee {label}</text>",
            k = x(knee),
            b = HEIGHT - BOTTOM,
            t = x(knee) + 4.0,
            ty = TOP + 12.0,
            label = escape(&format_rps(knee)),
        );
    }

    // The fitted curve, where it stays on the chart.
    if let Some(model) = &analysis.model {
        let points: Vec<String> = (0..=CURVE_SAMPLES)
            .map(|i| x_min + (x_max - x_min) * i as f64 / CURVE_SAMPLES as f64)
            .filter_map(|rps| model.at(rps).filter(|ms| *ms <= y_max).map(|ms| (rps, ms)))
            .map(|(rps, ms)| format!("{:.1},{:.1}", x(rps), y(ms)))
            .collect();
        if points.len() > 1 {
            let _ = write!(
                out,
                "<polyline class=\"model\" fill=\"none\" stroke=\"#555\" points=\"{}\"/>",
                points.join(" ")
            );
        }
    }

    // The steps: green where every SLO held, red where one broke.
    for judged in steps {
        let colour = if judged.held { "#2e7d32" } else { "#c62828" };
        let _ = write!(
            out,
            "<circle class=\"step\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{colour}\">\
             <title>{}: p99 {}</title></circle>",
            x(judged.step.achieved_rps),
            y(judged.step.p99_ms),
            escape(&format_rps(judged.step.achieved_rps)),
            escape(&format_ms(judged.step.p99_ms)),
        );
    }
    out.push_str("</svg>");
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::super::analyze;
    use super::super::slo::Slo;
    use super::super::tests::queue_run;
    use super::*;

    #[test]
    fn the_chart_draws_every_step_the_curve_the_slo_and_the_knee() {
        let slos = [Slo::parse("p99 < 50ms").expect("valid")];
        let analysis = analyze(&queue_run(), &slos, None).expect("analyses");
        let svg = svg(&analysis);
        assert_eq!(svg.matches("class=\"step\"").count(), analysis.steps.len());
        assert_eq!(svg.matches("class=\"slo\"").count(), 1);
        assert_eq!(svg.matches("class=\"knee\"").count(), 1);
        assert!(svg.contains("class=\"model\""));
        let page = html(&analysis, "r.json <capacity>");
        assert!(page.contains("&lt;capacity&gt;"));
        assert!(page.contains("knee: 600/s"));
    }
}
