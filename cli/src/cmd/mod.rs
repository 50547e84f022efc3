//! One module per subcommand: each turns typed flags into a library call and prints the outcome.

pub mod check;
pub mod compile;
pub mod demo;
pub mod demo_target;
pub mod fmt;
pub mod inspect;
pub mod run;
