//! ptl-compiler: the `.ptl` language, from source text to bytecode.
//!
//! The stages, in order: [`parse`] (grammar/ptl.pest → [`ast`] with spans), [`source`] (files and
//! imports), [`check`] (names, types, units, templates, captures → a resolved model, with
//! [`diagnostic`]s), [`lower`] (model → `ptl_bytecode::Plan`). Beside them: [`fmt`] prints the
//! canonical form, [`explain`] the schedule, [`report`] renders diagnostics. [`check_source`] is
//! the entry point.
pub mod ast;
pub mod check;
pub mod compile;
pub mod diagnostic;
pub mod explain;
pub mod files;
pub mod fmt;
pub mod lower;
pub mod parse;
pub mod report;
pub mod source;

/// The warning codes `allow` (in a plan) and `--allow` (on the command line) take.
pub use check::WARNING_CODES;
pub use compile::{check_file, check_source, CheckOptions, Checked};
pub use diagnostic::Diagnostic;
pub use explain::explain;
pub use files::Files;
pub use parse::{parse_duration, SyntaxError};
pub use report::{render_json, render_text, Report};
pub use source::StdResolver;
