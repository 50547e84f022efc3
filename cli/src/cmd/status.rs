//! `ptl status`: the cluster as ZooKeeper holds it now: the leading coordinator, the agents
//! (capacity, version, clock offset) and the runs with their state.

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::flags::StatusArgs;
use crate::output::Done;
use ptl_cluster::client::status::{self, ClusterStatus};
use serde_json::json;

pub fn run(args: &StatusArgs) -> Done {
    let runtime = runtime()?;
    let status = runtime
        .block_on(status::status(&zk_config(&args.zk)?))
        .map_err(cluster_failure)?;
    if args.json {
        let text = serde_json::to_string_pretty(&as_json(&status)).unwrap_or_default();
        println!("{text}");
    } else {
        print!("{}", as_text(&status));
    }
    Ok(())
}

fn as_json(status: &ClusterStatus) -> serde_json::Value {
    json!({
        "coordinator": status.coordinator,
        "agents": status.agents.iter().map(|a| json!({
            "id": a.id.0,
            "name": a.info.name,
            "host": a.info.host,
            "version": a.info.version,
            "bytecode_version": a.info.bytecode_version,
            "capacity": a.info.capacity,
            "labels": a.info.labels,
            "clock_offset_ms": a.info.clock_offset_ms,
        })).collect::<Vec<_>>(),
        "runs": status.runs.iter().map(|r| json!({
            "id": r.id.0,
            "plan": r.spec.plan_name,
            "plan_hash": r.spec.plan_hash,
            "agents": r.spec.agents,
            "state": if r.is_paused() { json!("paused") } else { json!(r.state.phase) },
            "pauses": r.pauses,
            "reason": r.state.reason,
            "coordinator": r.state.coordinator,
            "degraded": r.state.degraded,
            "verdict": r.state.verdict,
            "submitted_at_ms": r.spec.submitted_at_ms,
        })).collect::<Vec<_>>(),
    })
}

fn as_text(status: &ClusterStatus) -> String {
    let mut out = String::new();
    let leader = status.coordinator.as_deref().unwrap_or("none running");
    out.push_str(&format!("coordinator: {leader}\n"));
    out.push_str(&format!("agents: {}\n", status.agents.len()));
    for a in &status.agents {
        let capacity = a
            .info
            .capacity
            .map_or("-".to_string(), |c| format!("{c}/s"));
        let offset = a
            .info
            .clock_offset_ms
            .map_or("?".to_string(), |o| format!("{o:+} ms"));
        let labels: Vec<String> = a
            .info
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!(
            "  {}  {:<20} host {:<16} ptl {:<8} capacity {:<10} clock {:<8} {}\n",
            a.id,
            a.info.name,
            a.info.host,
            a.info.version,
            capacity,
            offset,
            labels.join(",")
        ));
    }
    out.push_str(&format!("runs: {}\n", status.runs.len()));
    for r in &status.runs {
        let state = if r.is_paused() {
            "paused".to_string()
        } else {
            serde_json::to_value(r.state.phase)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        out.push_str(&format!(
            "  {}  {:<20} {:<9} {} agent(s)",
            r.id, r.spec.plan_name, state, r.spec.agents
        ));
        if let Some(reason) = &r.state.reason {
            out.push_str(&format!("  ({reason})"));
        }
        if let Some(verdict) = &r.state.verdict {
            out.push_str(&format!("  {verdict}"));
        } else if !r.state.degraded.is_empty() {
            out.push_str(&format!(
                "  degraded: {} agent(s) lost",
                r.state.degraded.len()
            ));
        }
        out.push('\n');
    }
    out
}
