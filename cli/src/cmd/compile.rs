//! `ptl compile`: check a plan and write its bytecode.

use crate::exit::Exit;
use crate::flags::CompileArgs;
use crate::output::{fail, write_file, Done};
use crate::plan_source;
use std::path::PathBuf;

pub fn run(args: &CompileArgs) -> Done {
    let compiled = plan_source::compile_keeping_sources(&args.plan, &args.params)?;
    let output = args.output.clone().unwrap_or_else(|| {
        let stem = args.plan.strip_prefix("std:").unwrap_or(&args.plan);
        PathBuf::from(stem).with_extension("ptlc")
    });
    write_file(&output, &compiled.bytes).map_err(|e| fail(Exit::RunFailed, e))?;
    eprintln!(
        "wrote {} ({} bytes, plan {})",
        output.display(),
        compiled.bytes.len(),
        ptl_bytecode::hash(&compiled.bytes)
    );
    Ok(())
}
