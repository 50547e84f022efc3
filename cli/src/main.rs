//! `ptl`: the command-line face of the compiler and runtime libraries.
//!
//! Flags are parsed into typed values (`flags.rs`), each subcommand calls a library
//! (`cmd/`), and the process exits with a documented status (`exit.rs`).

mod cluster_setup;
mod cmd;
mod dashboard_setup;
mod exit;
mod flags;
mod output;
mod plan_library;
mod plan_source;
mod progress;
mod request_log;
mod runtime;
mod signals;
mod stdlib;
mod submit_options;

use clap::Parser;
use exit::Exit;
use flags::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match &cli.command {
        Command::Check(args) => cmd::check::run(args),
        Command::Fmt(args) => cmd::fmt::run(args),
        Command::Compile(args) => cmd::compile::run(args),
        Command::Inspect(args) => cmd::inspect::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::DemoTarget(args) => cmd::demo_target::run(args),
        Command::Coordinator(args) => cmd::coordinator::run(args),
        Command::Agent(args) => cmd::agent::run(args),
        Command::SimAgents(args) => cmd::sim_agents::run(args),
        Command::Submit(args) => cmd::submit::run(args),
        Command::Status(args) => cmd::status::run(args),
        Command::Stop(args) => cmd::stop::run(args),
        Command::Pause(args) => cmd::pause::run(args),
        Command::Resume(args) => cmd::resume::run(args),
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Zk(args) => cmd::zk::run(args),
        Command::Analyze(args) => cmd::analyze::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::PlanFromLog(args) => cmd::plan_from_log::run(args),
    };
    match done {
        Ok(()) => Exit::Ok.into(),
        Err(exit) => exit.into(),
    }
}
