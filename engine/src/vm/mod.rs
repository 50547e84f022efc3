//! The request VM: turns a compiled [`Plan`](ptl_bytecode::plan::Plan) into ready-to-send
//! HTTP requests.
//!
//! Load once with [`Program::new`] (shared by all workers through an `Arc`); give every worker
//! task its own [`VmWorker`] from [`Program::worker`]; per arrival, pick a scenario with
//! [`Program::pick_scenario`], draw its variables with [`Program::begin_iteration`] (or
//! [`Program::reset_iteration`] to reuse buffers), then for each request step call
//! [`Program::build`] (or [`Program::write_request`] for the wire form the engine sends) and,
//! on the response, [`Program::check_response`].

mod cookies;
mod encode;
mod error;
mod generators;
mod iteration;
mod mix;
mod program;
mod request;
mod share;
mod target;
mod template;
mod think;
mod wire;

pub use error::VmError;
pub use generators::Exhausted;
pub use iteration::{Iteration, VmWorker};
pub use program::{Program, StepKind};
pub use request::BuiltRequest;
pub use share::AgentShare;
pub use think::draw_think;
pub use wire::WireEdit;

/// Whether `url` is a base URL the runtime can send to (`http(s)://host[:port][/prefix]`).
pub fn parse_target(url: &str) -> Result<(), VmError> {
    target::Target::parse(url).map(|_| ())
}

#[cfg(test)]
pub(crate) mod test_plan;
#[cfg(test)]
mod tests;
