//! The compiler: lowering to bytecode, the formatter, and the golden diagnostics.
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own `tests/NAME.rs`.

mod compile;
mod fmt;
mod ui;
