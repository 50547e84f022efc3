//! `ptl compare`: read two request logs, compare their traffic dimension by dimension, print
//! the verdicts; exit 1 when a dimension differs beyond `--alpha`.

use crate::exit::Exit;
use crate::flags::{AnalyzeFormat, CompareArgs};
use crate::output::{fail, Done};
use ptl_report::traffic::{compare, formats, render, LogFormat, Traffic};
use std::path::Path;

/// Reads a log file (a usage error when it cannot be read as a log).
pub fn read_log(path: &Path, format: Option<LogFormat>) -> Result<Traffic, Exit> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(Exit::Usage, format!("cannot read {file}: {e}")))?;
    formats::read(&text, format, &file).map_err(|e| fail(Exit::Usage, e))
}

pub fn run(args: &CompareArgs) -> Done {
    let baseline = read_log(&args.baseline, args.baseline_format)?;
    let test = read_log(&args.test, args.test_format)?;
    let c = compare(&baseline, &test, args.alpha);
    match args.format {
        AnalyzeFormat::Text => print!("{}", render::text(&c)),
        AnalyzeFormat::Json => println!("{}", render::json(&c)),
    }
    if c.differs() {
        Err(Exit::ThresholdsFailed)
    } else {
        Ok(())
    }
}
