//! `ptl analyze`: read a run's result, judge its steps against the SLOs, print the knee (and
//! write the chart page with `--report`).

use crate::exit::Exit;
use crate::flags::{AnalyzeArgs, AnalyzeFormat};
use crate::output::{fail, write_file, Done};
use ptl_engine::result::RunResult;
use ptl_report::analysis::{analyze, chart, render};

pub fn run(args: &AnalyzeArgs) -> Done {
    let file = args.results.display();
    let text = std::fs::read_to_string(&args.results)
        .map_err(|e| fail(Exit::Usage, format!("cannot read {file}: {e}")))?;
    let result: RunResult = serde_json::from_str(&text).map_err(|e| {
        fail(
            Exit::Usage,
            format!("{file} is not a ptl result (`ptl run --out`): {e}"),
        )
    })?;
    let analysis = analyze(&result, &args.slos, args.at)
        .map_err(|e| fail(Exit::Usage, format!("{file}: {e}")))?;
    if let Some(path) = &args.report {
        let page = chart::html(&analysis, &format!("ptl analyze {file}"));
        write_file(path, page.as_bytes()).map_err(|e| fail(Exit::RunFailed, e))?;
    }
    match args.format {
        AnalyzeFormat::Text => print!("{}", render::text(&analysis)),
        AnalyzeFormat::Json => println!("{}", render::json(&analysis)),
    }
    Ok(())
}
