//! Warnings: plans that compile but will not do what they seem to. A timeout longer than a
//! phase, a peak rate that cannot be held if the target slows down (Little's law against
//! `max_inflight` and the connection pool), closed-model users that never pause, a `unique`
//! feeder shorter than the plan (`unique_rows`), names nobody uses.

use ptl_bytecode::{Load, Plan};

use crate::check::capacity;
use crate::check::model::Model;
use crate::check::names::Names;
use crate::check::values::per_sec_text;
use crate::check::Sink;
use crate::diagnostic::Diagnostic;
use crate::report::Located;
use ptl_bytecode::rounded_duration_text;

/// Whether the plan silences this diagnostic with `allow` (errors cannot be silenced).
pub fn allowed<S: AsRef<str>>(allowed: &[S], diagnostic: &Diagnostic) -> bool {
    if diagnostic.is_error() || allowed.is_empty() {
        return false;
    }
    let code = diagnostic.code_str();
    let code = code.trim_start_matches("ptl::");
    allowed.iter().any(|a| a.as_ref() == code)
}

/// Lets and params that nothing refers to.
pub fn unused(names: &Names<'_>, sink: &mut Sink) {
    for l in &names.lets {
        if !l.used.get() {
            sink.push(
                l.file,
                Diagnostic::Unused {
                    kind: "let",
                    name: l.name.clone(),
                    span: l.span.into(),
                },
            );
        }
    }
    for p in &names.params.list {
        if !p.used.get() {
            sink.push(
                p.file,
                Diagnostic::Unused {
                    kind: "param",
                    name: p.name.clone(),
                    span: p.span.into(),
                },
            );
        }
    }
}

/// Warnings about the compiled plan's numbers, pointing at the phases of `model`.
pub fn capacity(model: &Model, plan: &Plan) -> Vec<Located> {
    let mut out = capacity_unfiltered(model, plan);
    out.extend(crate::check::unique_rows::short_feeders(model, plan));
    out.retain(|l| !allowed(&model.allowed, &l.diagnostic));
    out
}

fn capacity_unfiltered(model: &Model, plan: &Plan) -> Vec<Located> {
    let mut out = Vec::new();
    for (phase, m) in plan.phases.iter().zip(&model.phases) {
        let origin = m.origin;
        let duration = phase.load.duration_us();
        let sends = !matches!(phase.load, Load::Pause { .. });
        if sends && plan.timeout_us > duration {
            out.push(Located::new(
                origin.file,
                Diagnostic::TimeoutLongerThanPhase {
                    timeout: rounded_duration_text(plan.timeout_us),
                    phase: phase.name.clone(),
                    duration: rounded_duration_text(duration),
                    span: origin.span.into(),
                },
            ));
        }
        if let Load::Users { users, think, .. } = phase.load {
            if think.is_none() && !capacity::mix_thinks(plan, phase) {
                out.push(Located::new(
                    origin.file,
                    Diagnostic::UsersWithoutThink {
                        phase: phase.name.clone(),
                        users,
                        span: origin.span.into(),
                    },
                ));
            }
        }
        let Some(demand) = capacity::demand(plan, phase) else {
            continue;
        };
        let rate = per_sec_text(demand.peak_per_sec);
        let per_arrival = rounded_duration_text(demand.hold_us.round() as u64);
        let limit = capacity::max_inflight(plan, phase);
        let needed = demand.inflight.ceil() as u64;
        if needed > limit as u64 {
            out.push(Located::new(
                origin.file,
                Diagnostic::InflightOverMax {
                    phase: phase.name.clone(),
                    rate: rate.clone(),
                    per_arrival: per_arrival.clone(),
                    needed,
                    limit,
                    span: origin.span.into(),
                },
            ));
        }
        let needed_connections = demand.connections.ceil() as u64;
        // HTTP/2 multiplexes requests on its connections: their count bounds nothing here.
        let pooled = plan.http == ptl_bytecode::HttpVersion::Http1;
        if pooled && needed_connections > plan.connections as u64 {
            out.push(Located::new(
                origin.file,
                Diagnostic::InflightOverConnections {
                    phase: phase.name.clone(),
                    rate,
                    per_arrival: rounded_duration_text(demand.busy_us.round() as u64),
                    needed: needed_connections,
                    limit: plan.connections,
                    span: origin.span.into(),
                },
            ));
        }
    }
    out
}
