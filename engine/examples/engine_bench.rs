//! Drives the engine at a target for measurement (not a test): closed-loop saturation, to
//! compare requests per CPU-second with wrk, or an open-loop rate, to check it is held.
//!
//! cargo run --release -p ptl-engine --example engine_bench -- URL users N SECONDS [WORKERS]
//! cargo run --release -p ptl-engine --example engine_bench -- URL rate R SECONDS [WORKERS] [CONNECTIONS]
//!
//! Prints the counts, rates and latencies, and the process's CPU time (user + system).

use ptl_bytecode::plan::*;
use ptl_engine::{run_blocking, RunOptions};
use std::time::Instant;

fn cpu_seconds() -> f64 {
    // utime and stime are fields 14 and 15 of /proc/self/stat, in clock ticks (100 Hz here).
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<u64> = after
        .split_whitespace()
        .filter_map(|x| x.parse().ok())
        .collect();
    // After the ")": state is not a number, so utime/stime are at 10 and 11 here.
    (f.get(10).copied().unwrap_or(0) + f.get(11).copied().unwrap_or(0)) as f64 / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: engine_bench URL users|rate N SECONDS [WORKERS] [CONNECTIONS]");
        std::process::exit(2);
    }
    let n: f64 = args[3].parse().unwrap_or(1.0);
    let secs: f64 = args[4].parse().unwrap_or(1.0);
    let workers: Option<usize> = args.get(5).and_then(|w| w.parse().ok());
    let duration_us = (secs * 1e6) as u64;
    let load = match args[2].as_str() {
        "users" => Load::Users {
            users: n as u32,
            duration_us,
            think: Think::NONE,
        },
        _ => Load::Rate {
            per_sec: n,
            duration_us,
        },
    };
    let connections: u32 =
        args.get(6)
            .and_then(|c| c.parse().ok())
            .unwrap_or(if matches!(load, Load::Users { .. }) {
                n as u32
            } else {
                200
            });
    let plan = Plan {
        timeout_us: 5_000_000,
        connections,
        seed: 1,
        // As benches/plans/open.ptl: arrivals that find every connection busy wait (and are
        // measured from their intended time) rather than being dropped.
        max_inflight: 5000,
        overflow: Overflow::Queue,
        ..Plan::get_root("bench", &args[1], "hit", vec![Phase::new("bench", load)])
    };
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    let out = match run_blocking(
        &plan,
        RunOptions {
            workers,
            ..RunOptions::default()
        },
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    };
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let p = &out.result.phases[0];
    println!(
        "planned {} requests {} errors {} dropped {} | target {:.0}/s achieved {:.1}/s | response p50 {:.3} p99 {:.3} ms | service p50 {:.3} p99 {:.3} | lag p50 {:.3} p99 {:.3} | wall {:.2}s cpu {:.2}s = {:.0} req/cpu-s",
        p.planned,
        p.request_count,
        p.errors,
        p.dropped,
        p.target_rps,
        p.achieved_rps,
        p.response_time_ms.expect("samples").p50,
        p.response_time_ms.expect("samples").p99,
        p.service_time_ms.expect("samples").p50,
        p.service_time_ms.expect("samples").p99,
        p.schedule_lag_ms.expect("samples").p50,
        p.schedule_lag_ms.expect("samples").p99,
        wall,
        cpu,
        p.request_count as f64 / cpu.max(0.01),
    );
    if !p.errors_by_class.is_empty() {
        println!("errors: {:?}", p.errors_by_class);
    }
}
