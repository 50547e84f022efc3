//! `ptl compile`: check a plan and write its bytecode.

use crate::exit::Exit;
use crate::flags::CompileArgs;
use crate::output::{fail, write_file};
use crate::plan_source;
use std::path::PathBuf;

pub fn run(args: &CompileArgs) -> Exit {
    let compiled = match plan_source::compile(&args.plan, &args.params.params) {
        Ok(c) => c,
        Err(exit) => return exit,
    };
    let output = args.output.clone().unwrap_or_else(|| {
        let stem = args.plan.strip_prefix("std:").unwrap_or(&args.plan);
        PathBuf::from(stem).with_extension("ptlc")
    });
    if let Err(e) = write_file(&output, &compiled.bytes) {
        return fail(Exit::RunFailed, e);
    }
    eprintln!(
        "wrote {} ({} bytes, plan {})",
        output.display(),
        compiled.bytes.len(),
        ptl_bytecode::hash(&compiled.bytes)
    );
    Exit::Ok
}
