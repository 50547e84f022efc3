//! stub
pub mod ast;
pub mod check;
pub mod compile;
pub mod diagnostic;
pub mod explain;
pub mod fmt;
pub mod lower;
pub mod parse;
pub mod report;
pub mod source;

pub use compile::{check_file, check_source, CheckOptions, Checked};
pub use diagnostic::Diagnostic;
pub use explain::explain;
pub use report::{render_json, render_text, Report};
pub use source::StdResolver;
