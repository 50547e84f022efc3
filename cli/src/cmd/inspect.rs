//! `ptl inspect`: disassemble a compiled plan.

use crate::exit::Exit;
use crate::flags::InspectArgs;
use crate::output::{fail, Done};

pub fn run(args: &InspectArgs) -> Done {
    let file = args.file.display();
    let bytes = std::fs::read(&args.file)
        .map_err(|e| fail(Exit::Usage, format!("cannot read {file}: {e}")))?;
    let text = ptl_bytecode::inspect(&bytes).map_err(|e| {
        fail(
            Exit::PlanInvalid,
            format!("{file} is not a valid compiled plan: {e}"),
        )
    })?;
    print!("{text}");
    Ok(())
}
