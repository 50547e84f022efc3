//! `ptl check`: lint plans and optionally explain their schedule.

use crate::exit::Exit;
use crate::flags::{CheckArgs, DiagnosticFormat};
use crate::output::{fail, Done};
use crate::plan_source::{self, Source};

/// Every plan is checked, even after a bad one; the status is the worst plan's.
pub fn run(args: &CheckArgs) -> Done {
    let mut worst = Exit::Ok;
    let mut json_all = Vec::new();
    for plan in &args.plans {
        let read = match plan_source::try_read(plan) {
            Ok(Source::Text { path, text }) => Ok((path, text)),
            Ok(Source::Bytecode { path, .. }) => Err((
                Exit::Usage,
                format!(
                    "{} is compiled bytecode; `ptl check` reads .ptl sources (use `ptl inspect`)",
                    path.display()
                ),
            )),
            Err(unreadable) => Err(unreadable),
        };
        let (path, text) = match read {
            Ok(source) => source,
            Err((exit, message)) => {
                // Said on stderr, and in the JSON too: an empty array said nothing of why.
                if args.format == DiagnosticFormat::Json {
                    json_all.push(serde_json::json!({
                        "file": plan,
                        "ok": false,
                        "error": message,
                        "diagnostics": [],
                    }));
                }
                fail(exit, message);
                worst = worse(worst, exit);
                continue;
            }
        };
        let checked = ptl_compiler::check_source(
            &path,
            &text,
            &plan_source::options(&args.params.params, &args.params.allow),
        );
        match args.format {
            DiagnosticFormat::Json => json_all.push(serde_json::json!({
                "file": path.display().to_string(),
                "ok": !checked.has_errors(),
                "diagnostics": checked.render_json(),
            })),
            DiagnosticFormat::Human => {
                plan_source::print_reports(&checked, args.format);
                let errors = checked.errors().count();
                let warnings = checked.warnings().count();
                if errors > 0 {
                    eprintln!(
                        "{}: {errors} error{}, {warnings} warning{}",
                        path.display(),
                        plural(errors),
                        plural(warnings)
                    );
                } else {
                    eprintln!(
                        "{}: ok{}",
                        path.display(),
                        if warnings > 0 {
                            format!(" ({warnings} warning{})", plural(warnings))
                        } else {
                            String::new()
                        }
                    );
                }
            }
        }
        match &checked.plan {
            Some(plan) if args.explain => print!("{}", ptl_compiler::explain(plan)),
            Some(_) => {}
            None => worst = worse(worst, Exit::PlanInvalid),
        }
    }
    if args.format == DiagnosticFormat::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json_all).unwrap_or_default()
        );
    }
    match worst {
        Exit::Ok => Ok(()),
        worst => Err(worst),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// Usage problems outrank plan errors: both are reported, the status says the first kind.
fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Ok => 0,
        Exit::PlanInvalid => 1,
        _ => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}
