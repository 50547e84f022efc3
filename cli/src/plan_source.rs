//! Turning a plan argument (`checkout.ptl`, `plan.ptlc`, `std:spike`) into a checked,
//! compiled plan, printing its diagnostics the way the user's terminal wants them.

use crate::exit::Exit;
use crate::flags::{DiagnosticFormat, ParamArgs};
use crate::output::fail;
use crate::stdlib;
use ptl_compiler::{CheckOptions, Checked, StdResolver};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The source of a plan argument: its display path and text.
pub enum Source {
    Text { path: PathBuf, text: String },
    Bytecode { path: PathBuf, bytes: Vec<u8> },
}

pub fn read(plan: &str) -> Result<Source, Exit> {
    try_read(plan).map_err(|(exit, message)| fail(exit, message))
}

/// [`read`], leaving the message to the caller (`check --format json` also puts it in its
/// output).
pub fn try_read(plan: &str) -> Result<Source, (Exit, String)> {
    if let Some(name) = plan.strip_prefix("std:") {
        return match stdlib::lookup(name) {
            Some(text) => Ok(Source::Text {
                path: PathBuf::from(plan),
                text: text.to_string(),
            }),
            None => {
                let names: Vec<&str> = stdlib::names().collect();
                Err((
                    Exit::Usage,
                    format!(
                        "there is no standard plan `{plan}`; the standard plans are: std:{}",
                        names.join(", std:")
                    ),
                ))
            }
        };
    }
    let path = PathBuf::from(plan);
    if path.extension().is_some_and(|e| e == "ptlc") {
        return std::fs::read(&path)
            .map(|bytes| Source::Bytecode {
                path: path.clone(),
                bytes,
            })
            .map_err(|e| (Exit::Usage, format!("cannot read {}: {e}", path.display())));
    }
    std::fs::read_to_string(&path)
        .map(|text| Source::Text {
            path: path.clone(),
            text,
        })
        .map_err(|e| (Exit::Usage, format!("cannot read {}: {e}", path.display())))
}

pub fn options(params: &[(String, String)], allow: &[String]) -> CheckOptions {
    CheckOptions {
        params: params.to_vec(),
        resolver: Some(StdResolver::new(|name| {
            stdlib::lookup(name).map(str::to_string)
        })),
        allow: allow.to_vec(),
    }
}

/// Check a plan's text; prints diagnostics (warnings too) on stderr.
pub fn check(path: &Path, text: &str, params: &[(String, String)], allow: &[String]) -> Checked {
    let checked = ptl_compiler::check_source(path, text, &options(params, allow));
    print_reports(&checked, DiagnosticFormat::Human);
    checked
}

/// Print diagnostics: graphical with colour on a terminal, plain text otherwise, or JSON.
pub fn print_reports(checked: &Checked, format: DiagnosticFormat) {
    match format {
        DiagnosticFormat::Json => {
            let json = checked.render_json();
            println!(
                "{}",
                serde_json::to_string_pretty(&json).unwrap_or_else(|_| "[]".into())
            );
        }
        DiagnosticFormat::Human if std::io::stderr().is_terminal() => {
            let handler = miette::GraphicalReportHandler::new();
            for report in &checked.reports {
                let mut out = String::new();
                if handler.render_report(&mut out, report).is_ok() {
                    eprint!("{out}");
                } else {
                    eprintln!("{report}");
                }
            }
        }
        DiagnosticFormat::Human => eprint!("{}", checked.render_text()),
    }
}

/// A plan argument compiled to bytecode: the plan and its encoded bytes.
pub struct Compiled {
    pub plan: ptl_bytecode::Plan,
    pub bytes: Vec<u8>,
}

/// Read, check and compile (or decode, for `.ptlc`) a plan argument.
pub fn compile(plan: &str, args: &ParamArgs) -> Result<Compiled, Exit> {
    let params = &args.params[..];
    match read(plan)? {
        Source::Bytecode { path, bytes } => {
            if !params.is_empty() {
                return Err(fail(
                    Exit::Usage,
                    format!(
                        "{} is already compiled: its parameters are fixed; pass the .ptl source to use --set",
                        path.display()
                    ),
                ));
            }
            let plan = ptl_bytecode::decode(&bytes).map_err(|e| {
                fail(
                    Exit::PlanInvalid,
                    format!("{} is not a valid compiled plan: {e}", path.display()),
                )
            })?;
            Ok(Compiled { plan, bytes })
        }
        Source::Text { path, text } => {
            let checked = check(&path, &text, params, &args.allow);
            match checked.plan {
                Some(plan) => {
                    let bytes = ptl_bytecode::encode(&plan);
                    Ok(Compiled { plan, bytes })
                }
                None => Err(fail(
                    Exit::PlanInvalid,
                    format!("{} has errors; nothing was run", path.display()),
                )),
            }
        }
    }
}
