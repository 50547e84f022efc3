//! The HTML report (`--html`): one self-contained file (inline CSS, script and chart data, no
//! network) with the run's charts, tables per phase, request and scenario, the thresholds and
//! the run's metadata.
//!
//! The page is a Handlebars template (`report.hbs`) filled from a view of the result whose
//! figures are already formatted. Charts are drawn in the browser by `charts.js` from the
//! embedded chart JSON, so a live dashboard can reuse the same script and data shape.

mod chart_data;
mod view;

pub use chart_data::chart_data_json;

use crate::error::ReportError;
use handlebars::Handlebars;
use ptl_engine::result::RunResult;
use std::sync::OnceLock;
use view::ReportView;

/// The chart-drawing script (global `ptlCharts`, or a CommonJS module), for pages that want
/// to draw the same charts.
pub const CHARTS_JS: &str = include_str!("charts.js");
/// The report's stylesheet, chart classes included.
pub const REPORT_CSS: &str = include_str!("report.css");
const TEMPLATE: &str = include_str!("report.hbs");
const TEMPLATE_NAME: &str = "report";

/// Renders the report page. Never fails: should the template itself be broken, the page says
/// so instead (`try_render_report` reports it as an error).
pub fn render_report(result: &RunResult) -> String {
    try_render_report(result).unwrap_or_else(|error| fallback_page(&error))
}

/// Renders the report page, or says why the template could not.
pub fn try_render_report(result: &RunResult) -> Result<String, ReportError> {
    let registry = registry()
        .as_ref()
        .map_err(|message| ReportError::HtmlTemplate(message.clone()))?;
    let view = ReportView::new(result, chart_data_json(result), CHARTS_JS, REPORT_CSS);
    registry
        .render(TEMPLATE_NAME, &view)
        .map_err(|error| ReportError::HtmlRender(error.to_string()))
}

fn registry() -> &'static Result<Handlebars<'static>, String> {
    static REGISTRY: OnceLock<Result<Handlebars<'static>, String>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = Handlebars::new();
        // A field the template names but the view lacks is a bug to surface, not a blank.
        registry.set_strict_mode(true);
        registry
            .register_template_string(TEMPLATE_NAME, TEMPLATE)
            .map_err(|error| error.to_string())?;
        Ok(registry)
    })
}

fn fallback_page(error: &ReportError) -> String {
    let message = handlebars::html_escape(&error.to_string());
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>ptl report</title></head>\
         <body><h1>ptl report</h1><p>The report could not be rendered: {message}</p></body></html>\n"
    )
}
