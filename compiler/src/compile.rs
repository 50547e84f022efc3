//! The compiler's entry point: a plan's source in; its diagnostics (errors and warnings, each
//! renderable with its file) and, when there is no error, the bytecode plan out.

use std::path::Path;

use ptl_bytecode::Plan;

use crate::check;
use crate::files::Files;
use crate::lower::lower;
use crate::report::{render_json, render_text, Located, Report};
use crate::source::{load_from, SourceFile, StdResolver};

#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// `--set name=value` overrides, in command-line order.
    pub params: Vec<(String, String)>,
    /// Supplies `std:NAME` libraries for `import "std:NAME"`; without it such imports fail.
    pub resolver: Option<StdResolver>,
    /// Warning codes silenced for this check (`--allow W0002`), as a plan's `allow W0002`
    /// silences them for every check; codes not in [`crate::WARNING_CODES`] silence nothing.
    pub allow: Vec<String>,
    /// Where imports and data files are read from: the disk unless told otherwise.
    pub files: Files,
}

/// The outcome of checking a plan.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Errors and warnings, by file (the root first) and position.
    pub reports: Vec<Report>,
    /// The compiled plan; `Some` exactly when there is no error.
    pub plan: Option<Plan>,
    /// Every file read: the root and its imports.
    pub files: Vec<SourceFile>,
}

impl Checked {
    pub fn has_errors(&self) -> bool {
        self.reports.iter().any(Report::is_error)
    }
    pub fn errors(&self) -> impl Iterator<Item = &Report> {
        self.reports.iter().filter(|r| r.is_error())
    }
    pub fn warnings(&self) -> impl Iterator<Item = &Report> {
        self.reports.iter().filter(|r| !r.is_error())
    }
    /// All reports as plain text (no colour, fixed width).
    pub fn render_text(&self) -> String {
        render_text(&self.reports)
    }
    /// All reports as a JSON array.
    pub fn render_json(&self) -> serde_json::Value {
        render_json(&self.reports)
    }
}

/// Checks `source`, the text of the plan at `path` (imports and CSV files are found relative
/// to it), and compiles it when there is no error.
pub fn check_source(path: &Path, source: &str, opts: &CheckOptions) -> Checked {
    let mut loaded = load_from(path, source, opts.resolver.as_ref(), opts.files.clone());
    let mut located = loaded.diagnostics.clone();
    let mut plan = None;
    if !loaded.incomplete {
        let (diagnostics, model) = check::check(&loaded, &opts.params);
        // The model owns all it needs: freeing the trees now lets lowering reuse their memory
        // instead of touching fresh pages (a large plan's trees are tens of megabytes).
        loaded.trees = Vec::new();
        let has_errors = located
            .iter()
            .chain(&diagnostics)
            .any(|l| l.diagnostic.is_error());
        located.extend(diagnostics);
        if let (Some(model), false) = (model, has_errors) {
            let mut compiled = lower(&model);
            check::capacity::size_defaults(&model.defaults, &mut compiled);
            located.extend(check::warnings::capacity(&model, &compiled));
            plan = Some(compiled);
        }
    }
    located.retain(|l| !check::warnings::allowed(&opts.allow, &l.diagnostic));
    sort(&mut located);
    let reports = located
        .into_iter()
        .filter_map(|l| {
            let file = loaded.files.get(l.file.0)?.clone();
            Some(Report::new(l.diagnostic, file))
        })
        .collect();
    Checked {
        reports,
        plan,
        files: loaded.files,
    }
}

/// Reads the plan at `path` and checks it.
pub fn check_file(path: &Path, opts: &CheckOptions) -> std::io::Result<Checked> {
    let source = std::fs::read_to_string(path)?;
    Ok(check_source(path, &source, opts))
}

/// By file, then by position; diagnostics without a position (about `--set`) first.
fn sort(list: &mut [Located]) {
    list.sort_by_key(|l| {
        let offset = miette::Diagnostic::labels(&l.diagnostic)
            .and_then(|mut labels| labels.next())
            .map(|label| label.offset());
        (l.file, offset.is_some(), offset.unwrap_or(0))
    });
}
