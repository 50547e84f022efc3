//! The bytecode format: disassembly, rejection of hostile input, and round trips.
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own `tests/NAME.rs`.

mod common;
mod disasm;
mod rejection;
mod roundtrip;
