//! `ptl fmt`: print, check or rewrite plans in canonical form.

use crate::exit::Exit;
use crate::flags::FmtArgs;
use crate::output::{fail, write_file, Done};

/// Every file is handled, even after a bad one; the status is the last error's, else 1 when
/// `--check` found a file not in canonical form.
pub fn run(args: &FmtArgs) -> Done {
    let mut status = Exit::Ok;
    for path in &args.files {
        let source = match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                status = fail(Exit::Usage, format!("cannot read {}: {e}", path.display()));
                continue;
            }
        };
        let formatted = match ptl_compiler::fmt::format_source(&source) {
            Ok(f) => f,
            Err(e) => {
                let line = source[..e.span.start.min(source.len())]
                    .lines()
                    .count()
                    .max(1);
                status = fail(
                    Exit::PlanInvalid,
                    format!(
                        "{}:{line}: {} (run `ptl check` for details)",
                        path.display(),
                        e.message
                    ),
                );
                continue;
            }
        };
        if args.check {
            if formatted != source {
                println!("{}: not in canonical form", path.display());
                if status == Exit::Ok {
                    status = Exit::ThresholdsFailed;
                }
            }
        } else if args.write {
            if formatted != source {
                if let Err(e) = write_file(path, formatted.as_bytes()) {
                    status = fail(Exit::RunFailed, e);
                }
            }
        } else {
            print!("{formatted}");
        }
    }
    match status {
        Exit::Ok => Ok(()),
        status => Err(status),
    }
}
