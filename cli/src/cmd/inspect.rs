//! `ptl inspect`: disassemble a compiled plan.

use crate::exit::Exit;
use crate::flags::InspectArgs;
use crate::output::fail;

pub fn run(args: &InspectArgs) -> Exit {
    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            return fail(
                Exit::Usage,
                format!("cannot read {}: {e}", args.file.display()),
            )
        }
    };
    match ptl_bytecode::inspect(&bytes) {
        Ok(text) => {
            print!("{text}");
            Exit::Ok
        }
        Err(e) => fail(
            Exit::PlanInvalid,
            format!("{} is not a valid compiled plan: {e}", args.file.display()),
        ),
    }
}
