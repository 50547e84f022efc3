//! `ptl plan-from-log`: write a plan from a request log, and check it with the compiler before
//! handing it over (a plan this command writes that does not check clean is a bug, said so).

use crate::exit::Exit;
use crate::flags::PlanFromLogArgs;
use crate::output::{fail, write_file, Done};
use crate::plan_source;
use ptl_report::traffic::plan::{plan_from_log, PlanOptions};

pub fn run(args: &PlanFromLogArgs) -> Done {
    let traffic = super::compare::read_log(&args.log, args.log_format)?;
    let name = args.name.clone().unwrap_or_else(|| {
        args.log
            .file_stem()
            .map_or("from-log".into(), |s| s.to_string_lossy().into_owned())
    });
    let source = std::iter::once("ptl".to_string())
        .chain(std::env::args().skip(1))
        .collect::<Vec<_>>()
        .join(" ");
    let options = PlanOptions {
        name,
        rate_scale: args.rate_scale,
        target: args.target.clone(),
        source,
    };
    let text = plan_from_log(&traffic, &options).map_err(|e| fail(Exit::Usage, e))?;
    let at = args.output.clone().unwrap_or_else(|| "from-log.ptl".into());
    let checked = ptl_compiler::check_source(&at, &text, &plan_source::options(&[], &[]));
    if !checked.reports.is_empty() {
        return Err(fail(
            Exit::RunFailed,
            format!(
                "the plan written from the log does not check clean (a bug in ptl):\n{}",
                checked.render_text()
            ),
        ));
    }
    match &args.output {
        Some(path) => {
            write_file(path, text.as_bytes()).map_err(|e| fail(Exit::RunFailed, e))?;
            eprintln!(
                "wrote {} from {} requests",
                path.display(),
                traffic.requests.len()
            );
        }
        None => print!("{text}"),
    }
    Ok(())
}
