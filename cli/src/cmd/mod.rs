//! One module per subcommand: each turns typed flags into a library call and prints the outcome.

pub mod agent;
pub mod analyze;
pub mod check;
pub mod compare;
pub mod compile;
pub mod coordinator;
pub mod demo;
pub mod demo_target;
pub mod fmt;
pub mod inspect;
pub mod keygen;
pub mod pause;
pub mod plan_from_log;
pub mod resume;
pub mod run;
pub mod sim_agents;
pub mod status;
pub mod stop;
pub mod submit;
pub mod zk;
