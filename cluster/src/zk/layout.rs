//! The znode layout, relative to the cluster's chroot (default `/ptl`). Every path the crate
//! reads or writes is built here, so `docs/cluster.md` can describe it from one place.
//!
//! ```text
//! /acl                           access policy JSON (roles), secured chroots only  persistent
//! /plans/<hash>                  manifest JSON {len, chunks, sha256}      persistent
//! /plans/<hash>/chunk-0000…      bytecode, ≤ 900 KiB each                  persistent
//! /agents/agent-<seq>            AgentInfo JSON                           ephemeral sequential
//! /clock/<agent>                 written to read ZooKeeper's mtime        ephemeral
//! /coordinators/candidate-<seq>  coordinator id                           ephemeral sequential
//! /dashboards/dashboard-<seq>    a served dashboard's address (URL)       ephemeral sequential
//! /runs/run-<seq>                RunSpec JSON (immutable)                 persistent sequential
//! /runs/run-<seq>/state          RunState JSON (versioned updates)        persistent
//! /runs/run-<seq>/assignment     Assignment JSON (epoch, start, shares)   persistent
//! /runs/run-<seq>/reports/<agent>/d-<window>  one interval's delta (binary, deflated)
//! /runs/run-<seq>/done/<agent>   the agent sent its last delta             persistent
//! /runs/run-<seq>/pauses         pause windows JSON (ZooKeeper clock)     persistent
//! /runs/run-<seq>/merged         merge mark JSON: what the history holds  persistent
//! /runs/run-<seq>/merged/b-<n>   folded seconds (deltas deleted after)    persistent
//! /runs/run-<seq>/live           merged live view JSON                    persistent
//! /runs/run-<seq>/result         the final RunResult JSON (as `ptl run`)  persistent
//! /runs/run-<seq>/collected      the submitter has read the result         persistent
//! /runs/run-<seq>/record         merged record manifest JSON              persistent
//! /runs/run-<seq>/record/chunk-… the merged record (HdrHistogram V2-deflate deltas format)
//! ```

use crate::ids::{AgentId, PlanHash, RunId};

pub const DEFAULT_CHROOT: &str = "/ptl";

pub const PLANS: &str = "/plans";
pub const AGENTS: &str = "/agents";
pub const CLOCK: &str = "/clock";
pub const COORDINATORS: &str = "/coordinators";
pub const RUNS: &str = "/runs";
pub const DASHBOARDS: &str = "/dashboards";
/// The fleet's access policy (`crate::access::policy`), written by `ptl zk init`; absent in an
/// open chroot.
pub const ACL_POLICY: &str = "/acl";

/// The top-level directories, created once per chroot.
pub const ROOTS: [&str; 6] = [PLANS, AGENTS, CLOCK, COORDINATORS, RUNS, DASHBOARDS];

/// Prefix of agents' ephemeral sequential nodes.
pub const AGENT_PREFIX: &str = "/agents/agent-";
/// Prefix of coordinator candidates' ephemeral sequential nodes.
pub const CANDIDATE_PREFIX: &str = "/coordinators/candidate-";
/// Prefix of served dashboards' ephemeral sequential nodes.
pub const DASHBOARD_PREFIX: &str = "/dashboards/dashboard-";
/// Prefix of runs' persistent sequential nodes.
pub const RUN_PREFIX: &str = "/runs/run-";

pub fn plan(hash: &PlanHash) -> String {
    format!("{PLANS}/{hash}")
}

pub fn plan_chunk(hash: &PlanHash, index: u32) -> String {
    chunk(&plan(hash), index)
}

/// The `index`-th chunk of data stored in chunks under `node` (`crate::zk::chunks`).
pub fn chunk(node: &str, index: u32) -> String {
    format!("{node}/chunk-{index:04}")
}

pub fn agent(id: &AgentId) -> String {
    format!("{AGENTS}/{id}")
}

pub fn clock_probe(name: &str) -> String {
    format!("{CLOCK}/{name}")
}

pub fn run(id: &RunId) -> String {
    format!("{RUNS}/{id}")
}

pub fn run_state(id: &RunId) -> String {
    format!("{RUNS}/{id}/state")
}

pub fn run_assignment(id: &RunId) -> String {
    format!("{RUNS}/{id}/assignment")
}

pub fn run_reports(id: &RunId) -> String {
    format!("{RUNS}/{id}/reports")
}

pub fn agent_reports(id: &RunId, agent: &AgentId) -> String {
    format!("{RUNS}/{id}/reports/{agent}")
}

/// An agent's delta of window `window` (persistent). Named by the window, which is unique per
/// agent and run, so writing it again after a lost connection or a new session is idempotent;
/// zero-padded, so names sort in window order.
pub fn report_node(id: &RunId, agent: &AgentId, window: u64) -> String {
    format!("{}/{}", agent_reports(id, agent), report_node_name(window))
}

/// The name of window `window`'s delta node in its agent's folder.
pub fn report_node_name(window: u64) -> String {
    format!("d-{window:010}")
}

pub fn run_done(id: &RunId) -> String {
    format!("{RUNS}/{id}/done")
}

/// Written by an agent after its last delta: the coordinator has everything from it.
pub fn agent_done(id: &RunId, agent: &AgentId) -> String {
    format!("{RUNS}/{id}/done/{agent}")
}

/// The run's pause windows (`crate::run::pauses`), read-modify-write with a version check.
pub fn run_pauses(id: &RunId) -> String {
    format!("{RUNS}/{id}/pauses")
}

/// Created by `ptl submit --wait` once it has read the result: retention may delete the run.
pub fn run_collected(id: &RunId) -> String {
    format!("{RUNS}/{id}/collected")
}

/// The merge mark (`coordinator::merge_mark`): its data says what the history under it holds.
pub fn run_merged(id: &RunId) -> String {
    format!("{RUNS}/{id}/merged")
}

/// The `n`-th node of a run's history (`coordinator::merged_history`), an interval of folded
/// seconds; zero-padded, so names sort in creation order.
pub fn merged_batch(id: &RunId, n: u32) -> String {
    format!("{RUNS}/{id}/merged/b-{n:06}")
}

pub fn run_live(id: &RunId) -> String {
    format!("{RUNS}/{id}/live")
}

pub fn run_result(id: &RunId) -> String {
    format!("{RUNS}/{id}/result")
}

/// The merged record behind the result (every histogram), for `submit --hdr-log`.
pub fn run_record(id: &RunId) -> String {
    format!("{RUNS}/{id}/record")
}

/// The name a sequential node got, from the full path ZooKeeper returned or we built.
pub fn leaf(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_nest_under_their_roots() {
        let hash = PlanHash::of(b"plan");
        let run_id = RunId("run-0000000001".into());
        let agent_id = AgentId("agent-0000000002".into());
        assert!(plan_chunk(&hash, 3).starts_with(&plan(&hash)));
        assert!(plan_chunk(&hash, 3).ends_with("chunk-0003"));
        assert!(report_node(&run_id, &agent_id, 7).starts_with(&agent_reports(&run_id, &agent_id)));
        assert!(report_node(&run_id, &agent_id, 9) < report_node(&run_id, &agent_id, 10));
        assert!(agent_reports(&run_id, &agent_id).starts_with(&run_reports(&run_id)));
        assert_eq!(leaf(&agent(&agent_id)), "agent-0000000002");
        for path in [
            run_state(&run_id),
            run_assignment(&run_id),
            run_result(&run_id),
            run_record(&run_id),
            run_pauses(&run_id),
            merged_batch(&run_id, 2),
        ] {
            assert!(path.starts_with(&run(&run_id)));
        }
    }
}
