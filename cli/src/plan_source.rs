//! Turning a plan argument (`checkout.ptl`, `plan.ptlc`, `std:spike`) into a checked,
//! compiled plan, printing its diagnostics the way the user's terminal wants them.

use crate::exit::Exit;
use crate::flags::{DiagnosticFormat, ParamArgs};
use crate::output::fail;
use crate::stdlib;
use ptl_compiler::{CheckOptions, Checked, Files, StdResolver};
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
        files: Files::default(),
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

/// Read, check and compile (or decode, for `.ptlc`) a plan argument. A compiled plan given
/// `--set` is checked and compiled again from the sources stored in it (`ptl compile` stores
/// them), with the same diagnostics as its `.ptl`.
pub fn compile(plan: &str, args: &ParamArgs) -> Result<Compiled, Exit> {
    match read(plan)? {
        Source::Bytecode { path, bytes } => {
            let invalid = |e: ptl_bytecode::DecodeError| {
                fail(
                    Exit::PlanInvalid,
                    format!("{} is not a valid compiled plan: {e}", path.display()),
                )
            };
            let plan = ptl_bytecode::decode(&bytes).map_err(invalid)?;
            if args.params.is_empty() {
                return Ok(Compiled { plan, bytes });
            }
            let mut sources = ptl_bytecode::sources(&bytes).map_err(invalid)?;
            let Some((root, text)) = sources.first().cloned() else {
                return Err(fail(
                    Exit::Usage,
                    format!(
                        "{} holds no sources (written by `ptl run`, `ptl submit` or a ptl before format v6), so its parameters are fixed; compile it with `ptl compile` to use --set",
                        path.display()
                    ),
                ));
            };
            let text = String::from_utf8(text).map_err(|_| {
                fail(
                    Exit::PlanInvalid,
                    format!("{}: its stored plan source is not UTF-8", path.display()),
                )
            })?;
            let files = Files::bundle(std::mem::take(&mut sources));
            let (plan, _) = check_and_lower(Path::new(&root), &text, args, files)?;
            let bytes = ptl_bytecode::encode(&plan);
            Ok(Compiled { plan, bytes })
        }
        Source::Text { path, text } => {
            let (plan, _) = check_and_lower(&path, &text, args, Files::default())?;
            let bytes = ptl_bytecode::encode(&plan);
            Ok(Compiled { plan, bytes })
        }
    }
}

/// [`compile`] for `ptl compile`: a `.ptl` plan's bytecode also holds every file it was
/// compiled from (the plan, its imports, data and body files), for a later `--set`.
pub fn compile_keeping_sources(plan: &str, args: &ParamArgs) -> Result<Compiled, Exit> {
    match read(plan)? {
        Source::Text { path, text } => {
            let (plan, files) = check_and_lower(&path, &text, args, Files::recording())?;
            let bytes = ptl_bytecode::encode_with_sources(&plan, &files.recorded());
            Ok(Compiled { plan, bytes })
        }
        Source::Bytecode { .. } => compile(plan, args),
    }
}

/// Checks (printing diagnostics) and lowers a plan's text, reading its files through `files`.
fn check_and_lower(
    path: &Path,
    text: &str,
    args: &ParamArgs,
    files: Files,
) -> Result<(ptl_bytecode::Plan, Files), Exit> {
    let mut opts = options(&args.params, &args.allow);
    opts.files = files.clone();
    let checked = ptl_compiler::check_source(path, text, &opts);
    print_reports(&checked, DiagnosticFormat::Human);
    match checked.plan {
        Some(plan) => Ok((plan, files)),
        None => Err(fail(
            Exit::PlanInvalid,
            format!("{} has errors; nothing was run", path.display()),
        )),
    }
}
