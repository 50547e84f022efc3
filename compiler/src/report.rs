//! A diagnostic together with the file it points into, and the two ways to show a list of them:
//! miette's graphical report (terminals, golden tests) and JSON (`ptl check --format json`).

use std::fmt;
use std::sync::Arc;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};
use serde::Serialize;

use crate::diagnostic::Diagnostic;
use crate::source::{FileId, SourceFile};

/// A diagnostic and the index of the file it is about, before the file's text is attached.
#[derive(Debug, Clone, PartialEq)]
pub struct Located {
    pub file: FileId,
    pub diagnostic: Diagnostic,
}

impl Located {
    pub fn new(file: FileId, diagnostic: Diagnostic) -> Self {
        Located { file, diagnostic }
    }
}

/// A diagnostic that renders on its own: it carries the text of its file.
#[derive(Debug, Clone)]
pub struct Report {
    pub diagnostic: Diagnostic,
    pub file: SourceFile,
    source: Arc<NamedSource<Arc<String>>>,
}

impl Report {
    pub fn new(diagnostic: Diagnostic, file: SourceFile) -> Self {
        let source = Arc::new(file.named_source());
        Report {
            diagnostic,
            file,
            source,
        }
    }

    pub fn is_error(&self) -> bool {
        self.diagnostic.is_error()
    }

    /// The primary span (the first label): byte offset and length.
    pub fn primary_span(&self) -> Option<(usize, usize)> {
        let mut labels = miette::Diagnostic::labels(&self.diagnostic)?;
        let first = labels.next()?;
        Some((first.offset(), first.len()))
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.diagnostic, f)
    }
}

impl std::error::Error for Report {}

impl miette::Diagnostic for Report {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic.code()
    }
    fn severity(&self) -> Option<miette::Severity> {
        self.diagnostic.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic.help()
    }
    fn url<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.diagnostic.url()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&*self.source)
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.diagnostic.labels()
    }
}

/// Width of golden-test output: fixed so that it does not depend on the terminal.
pub const TEXT_WIDTH: usize = 100;

/// The reports as plain text (no colour, fixed width), one after the other: what golden tests
/// compare and what `ptl check` prints when the output is not a terminal.
pub fn render_text(reports: &[Report]) -> String {
    let handler = GraphicalReportHandler::new_themed(GraphicalTheme::unicode_nocolor())
        .with_width(TEXT_WIDTH)
        .with_links(false);
    let mut out = String::new();
    for report in reports {
        let mut one = String::new();
        if handler.render_report(&mut one, report).is_err() {
            // Rendering into a String only fails if a label is out of bounds; still say what.
            one = format!("{}: {}\n", report.diagnostic.code_str(), report.diagnostic);
        }
        out.push_str(&one);
    }
    out
}

#[derive(Debug, Serialize)]
struct JsonDiagnostic {
    code: String,
    severity: &'static str,
    message: String,
    file: String,
    /// 1-based, of the primary span; absent when the diagnostic has no span (`--set`).
    line: Option<usize>,
    column: Option<usize>,
    span: Option<JsonSpan>,
    help: Option<String>,
    labels: Vec<JsonLabel>,
}

#[derive(Debug, Serialize)]
struct JsonSpan {
    offset: usize,
    length: usize,
}

#[derive(Debug, Serialize)]
struct JsonLabel {
    label: Option<String>,
    offset: usize,
    length: usize,
    line: usize,
    column: usize,
}

/// The reports as a JSON array (`ptl check --format json`).
pub fn render_json(reports: &[Report]) -> serde_json::Value {
    let items: Vec<JsonDiagnostic> = reports.iter().map(json_of).collect();
    serde_json::to_value(items).unwrap_or(serde_json::Value::Null)
}

fn json_of(report: &Report) -> JsonDiagnostic {
    let d = &report.diagnostic;
    let labels: Vec<JsonLabel> = miette::Diagnostic::labels(d)
        .map(|it| {
            it.map(|l| {
                let (line, column) = report.file.line_col(l.offset());
                JsonLabel {
                    label: l.label().map(str::to_string),
                    offset: l.offset(),
                    length: l.len(),
                    line,
                    column,
                }
            })
            .collect()
        })
        .unwrap_or_default();
    let first = labels.first();
    JsonDiagnostic {
        code: d.code_str(),
        severity: if d.is_error() { "error" } else { "warning" },
        message: d.to_string(),
        file: report.file.name.clone(),
        line: first.map(|l| l.line),
        column: first.map(|l| l.column),
        span: first.map(|l| JsonSpan {
            offset: l.offset,
            length: l.length,
        }),
        help: miette::Diagnostic::help(d).map(|h| h.to_string()),
        labels,
    }
}
