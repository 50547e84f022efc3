//! `ptl check --explain`: what a compiled plan will do, phase by phase, in numbers: how long,
//! how many requests, the peak rate, who gets which share of it, the faults, and how much may
//! be in flight at the peak if the target slows down to the timeout (Little's law).

use std::fmt::Write;

use ptl_bytecode::{Arrivals, Fault, HttpVersion, Load, Overflow, Phase, Plan, Think};

use crate::check::capacity::{self, demand, mix, planned_arrivals, requests_per_iteration};
use crate::check::values::{per_sec_text, trim_float};
use ptl_bytecode::rounded_duration_text;

pub fn explain(plan: &Plan) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "plan \"{}\" → {}", plan.name, plan.target);
    let _ = writeln!(
        out,
        "  timeout {}, connections {}, max_inflight {}, overflow {}, seed {}",
        rounded_duration_text(plan.timeout_us),
        plan.connections,
        plan.max_inflight,
        overflow_text(plan.overflow),
        plan.seed
    );
    if plan.http == HttpVersion::Http2 {
        let _ = writeln!(
            out,
            "  http 2: {} HTTP/2 connections per agent, requests multiplexed as streams on them",
            plan.connections
        );
    }
    if !plan.params.is_empty() {
        let params: Vec<String> = plan
            .params
            .iter()
            .map(|(k, v)| format!("{k} = {v}"))
            .collect();
        let _ = writeln!(out, "  params: {}", params.join(", "));
    }
    explain_hosts_and_tags(&mut out, plan);
    let mut total_us = 0u64;
    let mut total_requests = Some(0.0);
    for phase in &plan.phases {
        out.push('\n');
        let requests = explain_phase(&mut out, plan, phase);
        total_us += phase.load.duration_us();
        total_requests = match (total_requests, requests) {
            (Some(t), Some(r)) => Some(t + r),
            _ => None,
        };
    }
    out.push('\n');
    let _ = write!(out, "total: {}", rounded_duration_text(total_us));
    match total_requests {
        Some(r) => {
            let _ = writeln!(out, ", {} planned requests", count(r));
        }
        None => {
            let _ = writeln!(
                out,
                ", planned requests depend on the closed phases' response times"
            );
        }
    }
    out
}

/// Where the requests go when they do not all go to `target`, which have their own timeout,
/// and the tags they carry: each host has its own connection pool and its own results.
fn explain_hosts_and_tags(out: &mut String, plan: &Plan) {
    let requests: Vec<(&str, &ptl_bytecode::Request)> = plan
        .scenarios
        .iter()
        .flat_map(|s| {
            s.steps.iter().filter_map(move |step| match step {
                ptl_bytecode::Step::Request(r) => Some((s.name.as_str(), r)),
                ptl_bytecode::Step::Think(_) => None,
            })
        })
        .collect();
    if !plan.hosts.is_empty() {
        let _ = writeln!(
            out,
            "  hosts: each with its own pool of {} connections and its own rows in the results",
            plan.connections
        );
        for h in std::iter::once(None).chain((0..plan.hosts.len() as u32).map(Some)) {
            let count = requests.iter().filter(|(_, r)| r.host == h).count();
            let (name, url) = (plan.host_name(h), plan.host_url(h));
            let plural = if count == 1 { "" } else { "s" };
            let _ = if name == url {
                writeln!(out, "    {url} ({count} request{plural})")
            } else {
                writeln!(out, "    {name} → {url} ({count} request{plural})")
            };
        }
    }
    for (scenario, r) in &requests {
        if let Some(us) = r.timeout_us {
            let _ = writeln!(
                out,
                "  timeout {} for {} (instead of {})",
                rounded_duration_text(us),
                if *scenario == r.name {
                    r.name.clone()
                } else {
                    format!("{scenario}.{}", r.name)
                },
                rounded_duration_text(plan.timeout_us)
            );
        }
    }
    if !plan.tags.is_empty() {
        let tags: Vec<String> = plan
            .tags
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let count = requests
                    .iter()
                    .filter(|(_, r)| r.tags.contains(&(i as u32)))
                    .count();
                format!("{} = {:?} ({count})", t.key, t.value)
            })
            .collect();
        let _ = writeln!(out, "  tags: {}", tags.join(", "));
    }
}

/// Writes one phase; returns its planned request count (`None` for a closed phase).
fn explain_phase(out: &mut String, plan: &Plan, phase: &Phase) -> Option<f64> {
    let _ = writeln!(out, "phase {}: {}", phase.name, load_text(&phase.load));
    let _ = writeln!(
        out,
        "  duration     {}",
        rounded_duration_text(phase.load.duration_us())
    );
    let shares = mix(plan, phase);
    // Requests per arrival, averaged over the mix.
    let per_arrival: f64 = shares
        .iter()
        .map(|&(s, share)| share * requests_per_iteration(&plan.scenarios[s]) as f64)
        .sum();
    let limit = capacity::max_inflight(plan, phase);
    let requests = match phase.load {
        Load::Pause { .. } => {
            let _ = writeln!(out, "  no traffic");
            return Some(0.0);
        }
        Load::Users { users, think, .. } => {
            let pace = if !think.is_none() {
                format!(", thinking {} between iterations", think_text(think))
            } else if capacity::mix_thinks(plan, phase) {
                ", thinking where their scenarios say".to_string()
            } else {
                " with no think time: the rate is what the target can answer (W0005)".to_string()
            };
            let _ = writeln!(
                out,
                "  closed model: {users} users send back to back{pace}; the request count depends on response times"
            );
            let _ = writeln!(
                out,
                "  in flight    at most {users} (max_inflight {limit}, connections {})",
                plan.connections
            );
            None
        }
        _ => {
            let arrivals = planned_arrivals(&phase.load).unwrap_or(0.0);
            let requests = arrivals * per_arrival;
            if (per_arrival - 1.0).abs() < 1e-9 {
                let _ = writeln!(out, "  planned      {} requests", count(requests));
            } else {
                let _ = writeln!(
                    out,
                    "  planned      {} arrivals → {} requests",
                    count(arrivals),
                    count(requests)
                );
            }
            if let Some(d) = demand(plan, phase) {
                let _ = writeln!(
                    out,
                    "  peak         {} ({} requests/s){}",
                    per_sec_text(d.peak_per_sec),
                    trim_float(d.peak_per_sec * per_arrival),
                    match phase.arrivals {
                        Arrivals::Uniform => "",
                        Arrivals::Poisson => ", Poisson arrivals",
                    }
                );
            }
            Some(requests)
        }
    };
    let peak = capacity::peak_per_sec(&phase.load);
    if !shares.is_empty() {
        let _ = writeln!(out, "  mix");
        for &(s, share) in &shares {
            let sc = &plan.scenarios[s];
            let pct = format!("{}%", trim_float(share * 100.0));
            let line = match (peak, sc.single_request) {
                (Some(p), true) => format!("{} requests/s at peak", trim_float(p * share)),
                (Some(p), false) => {
                    let n = requests_per_iteration(sc);
                    format!(
                        "{} iterations/s × {n} requests = {} requests/s at peak",
                        trim_float(p * share),
                        trim_float(p * share * n as f64)
                    )
                }
                (None, true) => "1 request per arrival".to_string(),
                (None, false) => format!("{} requests per iteration", requests_per_iteration(sc)),
            };
            let _ = writeln!(out, "    {:<16} {:>8}  {line}", sc.name, pct);
        }
    }
    if !phase.injections.is_empty() {
        let faults: Vec<String> = phase
            .injections
            .iter()
            .map(|i| {
                let share = format!("{}%", trim_float(i.share.as_fraction() * 100.0));
                match &i.fault {
                    Fault::Abort => format!("abort {share}"),
                    Fault::Delay { us } => format!("delay {} {share}", rounded_duration_text(*us)),
                    Fault::Reset => format!("reset {share}"),
                    Fault::Corrupt => format!("corrupt {share}"),
                    Fault::Header { name, value } => format!(
                        "header {}={} {share}",
                        String::from_utf8_lossy(plan.constant(*name)),
                        String::from_utf8_lossy(plan.constant(*value))
                    ),
                }
            })
            .collect();
        let _ = writeln!(out, "  injections   {}", faults.join(", "));
    }
    if let Some(d) = demand(plan, phase) {
        let _ = writeln!(
            out,
            "  in flight    {} × {} = {} if responses take the timeout\n               (max_inflight {limit}{}; {})",
            per_sec_text(d.peak_per_sec),
            rounded_duration_text(d.hold_us.round() as u64),
            count(d.inflight.ceil()),
            match phase.overflow.unwrap_or(plan.overflow) {
                Overflow::Drop => ", overflow drops",
                Overflow::Queue => ", overflow queues",
            },
            match plan.http {
                HttpVersion::Http1 => format!(
                    "connections {}, {} needed",
                    plan.connections,
                    count(d.connections.ceil())
                ),
                // Streams share connections: the pool size does not bound what is in flight.
                HttpVersion::Http2 => format!("as streams on {} connections", plan.connections),
            },
        );
    }
    requests
}

fn load_text(load: &Load) -> String {
    match *load {
        Load::Rate {
            per_sec,
            duration_us,
        } => format!(
            "rate {} for {}",
            per_sec_text(per_sec),
            rounded_duration_text(duration_us)
        ),
        Load::Ramp {
            from,
            to,
            duration_us,
        } => format!(
            "ramp {} → {} over {}",
            per_sec_text(from),
            per_sec_text(to),
            rounded_duration_text(duration_us)
        ),
        Load::Steps {
            from,
            to,
            by,
            every_us,
        } => format!(
            "steps {} → {} by {} every {}",
            per_sec_text(from),
            per_sec_text(to),
            per_sec_text(by),
            rounded_duration_text(every_us)
        ),
        Load::Pause { duration_us } => format!("pause {}", rounded_duration_text(duration_us)),
        Load::Users {
            users, duration_us, ..
        } => format!("users {users} for {}", rounded_duration_text(duration_us)),
    }
}

/// `2s`, `1s to 3s (uniform)` or `exponentially, 1s on average`.
fn think_text(t: Think) -> String {
    match t {
        Think::Uniform { min_us, max_us } if min_us == max_us => rounded_duration_text(min_us),
        Think::Uniform { min_us, max_us } => format!(
            "{} to {} (uniform)",
            rounded_duration_text(min_us),
            rounded_duration_text(max_us)
        ),
        Think::Exponential { mean_us } => format!(
            "exponentially, {} on average,",
            rounded_duration_text(mean_us)
        ),
    }
}

fn overflow_text(o: Overflow) -> &'static str {
    match o {
        Overflow::Drop => "drop",
        Overflow::Queue => "queue",
    }
}

/// A count rounded to a whole number.
fn count(n: f64) -> String {
    format!("{}", n.round() as u64)
}
