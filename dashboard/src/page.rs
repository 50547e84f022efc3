//! The page, served from the binary (no CDN, works offline): its HTML, its script and style,
//! and the report's chart script and stylesheet, shared so the live charts and the report's
//! are drawn by the same code.

use ptl_report::html::{CHARTS_JS, REPORT_CSS};

pub const INDEX_HTML: &str = include_str!("page/index.html");
pub const DASHBOARD_JS: &str = include_str!("page/dashboard.js");
pub const DASHBOARD_CSS: &str = include_str!("page/dashboard.css");

/// What `/` answers to a browser without a token when viewing is not open.
pub const LOCKED_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>ptl dashboard</title></head><body><h1>ptl dashboard</h1><p>This dashboard needs a token: \
open it as <code>/?token=TOKEN</code> with the viewer or operator token.</p></body></html>\n";

/// An asset by its name under `/assets/`: content type and body.
pub fn asset(name: &str) -> Option<(&'static str, &'static str)> {
    match name {
        "charts.js" => Some(("text/javascript; charset=utf-8", CHARTS_JS)),
        "dashboard.js" => Some(("text/javascript; charset=utf-8", DASHBOARD_JS)),
        "report.css" => Some(("text/css; charset=utf-8", REPORT_CSS)),
        "dashboard.css" => Some(("text/css; charset=utf-8", DASHBOARD_CSS)),
        _ => None,
    }
}
