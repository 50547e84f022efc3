//! Whether the load generator itself was the bottleneck: a saturation figure per second, from
//! the schedule lag of the arrivals it started that second (how late they went out against their
//! intended instants) and, where it is measured, the CPU the process used of its cores.
//!
//! The two limits look alike in the achieved rate but not here. A target that cannot keep up
//! fills the in-flight limit, so arrivals are dropped (never delayed), or keeps every connection
//! busy, so requests wait for one (counted apart, and left out of the lag); response times grow
//! either way, while the generator's schedule stays on time. A generator that cannot keep up
//! starts arrivals late: its schedule lag grows whatever the target does. So lag says "the
//! generator", drops and connection waits with low lag say "the target".
//!
//! The CPU figure travels in each window ([`GeneratorCounts`]), so a coordinator judges an
//! agent by the same figures the agent's own process measured.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::record::recorder::{add_histogram, new_histogram};
use crate::record::{GeneratorCounts, Recorded};

/// A second whose arrivals' p90 schedule lag reaches this is fully saturated: an open-loop
/// generator with headroom starts 90 % of arrivals within a millisecond or two of their instant.
pub const LAG_BUDGET_MS: f64 = 20.0;

/// At or above this a second counts as saturated.
pub const SATURATED: f64 = 0.9;

/// One second of the generator's load.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Second {
    /// p90 schedule lag of the arrivals started this second, ms (`None`: none started).
    pub lag_p90_ms: Option<f64>,
    /// Share (0..=1) of the process's cores it used this second, where measured.
    pub cpu: Option<f64>,
    /// Requests that waited for a free connection this second, and their waiting in all (µs).
    pub pool_waits: u64,
    pub pool_wait_us: u64,
}

impl Second {
    /// The second's figures from a window's record.
    pub fn of(window: &Recorded) -> Second {
        let mut lag = new_histogram();
        let (mut pool_waits, mut pool_wait_us) = (0, 0);
        for stats in &window.request {
            if let Some(l) = &stats.latency {
                add_histogram(&mut lag, &l.lag);
            }
            pool_waits += stats.pool_waits;
            pool_wait_us += stats.pool_wait_us;
        }
        let lag_p90_ms = (!lag.is_empty()).then(|| lag.value_at_quantile(0.90) as f64 / 1000.0);
        Second {
            lag_p90_ms,
            cpu: window.generator.cpu_share(),
            pool_waits,
            pool_wait_us,
        }
    }

    /// 0 (idle) to 1 (saturated): the larger of lag over [`LAG_BUDGET_MS`] and the CPU share.
    pub fn saturation(&self) -> f64 {
        let lag = self.lag_p90_ms.map_or(0.0, |ms| ms / LAG_BUDGET_MS);
        lag.max(self.cpu.unwrap_or(0.0)).clamp(0.0, 1.0)
    }
}

/// What the result says of one generator (the run's engine, or one agent of a cluster run).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct LoadSummary {
    /// The highest saturation of any second.
    pub saturation_max: f64,
    /// Seconds at or above [`SATURATED`].
    pub saturated_s: u64,
    /// The highest p90 schedule lag of any second, ms.
    pub lag_p90_max_ms: f64,
    /// The highest CPU share of any second, where measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_max: Option<f64>,
    /// Requests that found every connection busy and waited for one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pool_waits: u64,
    /// Their mean wait, ms.
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub pool_wait_ms_mean: f64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

impl LoadSummary {
    pub fn add(&mut self, second: &Second) {
        let saturation = second.saturation();
        self.saturation_max = self.saturation_max.max(round(saturation));
        if saturation >= SATURATED {
            self.saturated_s += 1;
        }
        if let Some(lag) = second.lag_p90_ms {
            self.lag_p90_max_ms = self.lag_p90_max_ms.max(round(lag));
        }
        if let Some(cpu) = second.cpu {
            self.cpu_max = Some(self.cpu_max.unwrap_or(0.0).max(round(cpu)));
        }
        self.add_pool_waits(second.pool_waits, second.pool_wait_us as f64 / 1000.0);
    }

    /// `n` more waits of `ms` in all.
    fn add_pool_waits(&mut self, n: u64, ms: f64) {
        let total = self.pool_waits + n;
        if total > 0 {
            let before = self.pool_wait_ms_mean * self.pool_waits as f64;
            self.pool_wait_ms_mean = round((before + ms) / total as f64);
        }
        self.pool_waits = total;
    }
}

/// The result's `generator`: the whole run's, and each agent's in a cluster run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GeneratorLoad {
    #[serde(flatten)]
    pub summary: LoadSummary,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<String, LoadSummary>,
}

impl GeneratorLoad {
    /// A cluster run's: the busiest agent's figures, and every agent's.
    pub fn of_agents(agents: BTreeMap<String, LoadSummary>) -> GeneratorLoad {
        let mut summary = LoadSummary::default();
        for a in agents.values() {
            summary.saturation_max = summary.saturation_max.max(a.saturation_max);
            summary.saturated_s = summary.saturated_s.max(a.saturated_s);
            summary.lag_p90_max_ms = summary.lag_p90_max_ms.max(a.lag_p90_max_ms);
            if let Some(cpu) = a.cpu_max {
                summary.cpu_max = Some(summary.cpu_max.unwrap_or(0.0).max(cpu));
            }
            summary.add_pool_waits(a.pool_waits, a.pool_wait_ms_mean * a.pool_waits as f64);
        }
        GeneratorLoad { summary, agents }
    }

    /// Who could not keep up, when the run fell short of its plan (arrivals dropped or started
    /// late); `None` when it did not.
    pub fn bottleneck(&self, dropped: u64) -> Option<String> {
        let s = &self.summary;
        if s.saturated_s > 0 {
            let cpu = s
                .cpu_max
                .map(|c| format!(", CPU up to {:.0} %", c * 100.0))
                .unwrap_or_default();
            let waits = if s.pool_waits > 0 {
                format!(
                    "; {} request(s) also waited for a free connection ({:.1} ms on average)",
                    s.pool_waits, s.pool_wait_ms_mean
                )
            } else {
                String::new()
            };
            Some(format!(
                "the generator could not keep up: saturated for {} s (schedule lag p90 up to \
                 {:.1} ms{cpu}); those seconds measure ptl's limit, not the target's{waits}",
                s.saturated_s, s.lag_p90_max_ms
            ))
        } else if dropped > 0 || s.pool_waits > 0 {
            let mut limits = Vec::new();
            if dropped > 0 {
                limits.push(format!("{dropped} arrival(s) dropped at max_inflight"));
            }
            if s.pool_waits > 0 {
                limits.push(format!(
                    "{} request(s) waited for a free connection ({:.1} ms on average: more \
                     `connections` would send them on time, if the target can take them)",
                    s.pool_waits, s.pool_wait_ms_mean
                ));
            }
            Some(format!(
                "the target could not keep up: {} while the generator kept its schedule \
                 (saturation at most {:.0} %)",
                limits.join(", "),
                s.saturation_max * 100.0
            ))
        } else {
            None
        }
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// The CPU this process has used (user + system, all threads), for a share per second.
pub fn process_cpu() -> Option<std::time::Duration> {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Some(std::time::Duration::new(
        u64::try_from(t.tv_sec).ok()?,
        u32::try_from(t.tv_nsec).ok()?,
    ))
}

/// Measures the process's CPU window by window, for [`Recorded::generator`], against the cores
/// its workers can use: `--workers 1` on a machine of 8 is saturated at one core's worth.
#[derive(Debug)]
pub struct CpuMeter {
    before: Option<(std::time::Instant, std::time::Duration)>,
    cores: u64,
}

impl CpuMeter {
    /// For a process of `workers` engine worker threads (each runs on one core at most).
    pub fn new(workers: usize) -> CpuMeter {
        let machine = std::thread::available_parallelism().map_or(1, |n| n.get());
        CpuMeter {
            before: process_cpu().map(|cpu| (std::time::Instant::now(), cpu)),
            cores: workers.clamp(1, machine) as u64,
        }
    }

    /// The CPU used and available since the previous call (or since it was made).
    pub fn take(&mut self) -> GeneratorCounts {
        let Some(now) = process_cpu().map(|cpu| (std::time::Instant::now(), cpu)) else {
            return GeneratorCounts::default();
        };
        let Some((then, used)) = self.before.replace(now) else {
            return GeneratorCounts::default();
        };
        let wall = now.0.duration_since(then).as_micros() as u64;
        GeneratorCounts {
            cpu_us: now.1.saturating_sub(used).as_micros() as u64,
            cores_us: wall * self.cores,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_is_the_larger_of_lag_and_cpu() {
        let idle = Second {
            lag_p90_ms: Some(0.4),
            cpu: Some(0.1),
            ..Second::default()
        };
        assert!((idle.saturation() - 0.1).abs() < 1e-12);
        let late = Second {
            lag_p90_ms: Some(35.0),
            cpu: Some(0.3),
            ..Second::default()
        };
        assert_eq!(late.saturation(), 1.0);
        let busy = Second {
            lag_p90_ms: None,
            cpu: Some(0.95),
            ..Second::default()
        };
        assert_eq!(busy.saturation(), 0.95);
        assert_eq!(Second::default().saturation(), 0.0);
    }

    #[test]
    fn the_bottleneck_is_named_from_lag_and_drops() {
        let mut load = LoadSummary::default();
        load.add(&Second {
            lag_p90_ms: Some(0.5),
            cpu: None,
            ..Second::default()
        });
        let calm = GeneratorLoad {
            summary: load.clone(),
            agents: BTreeMap::new(),
        };
        assert_eq!(calm.bottleneck(0), None);
        assert!(calm
            .bottleneck(7)
            .unwrap()
            .starts_with("the target could not keep up: 7"));
        load.add(&Second {
            lag_p90_ms: Some(250.0),
            cpu: Some(1.0),
            ..Second::default()
        });
        let agents = BTreeMap::from([
            ("a".to_string(), load),
            ("b".into(), LoadSummary::default()),
        ]);
        let busy = GeneratorLoad::of_agents(agents);
        assert_eq!(busy.summary.saturated_s, 1);
        assert_eq!(busy.summary.lag_p90_max_ms, 250.0);
        assert!(busy
            .bottleneck(7)
            .unwrap()
            .starts_with("the generator could not keep up"));
    }

    #[test]
    fn connection_waits_name_the_target_and_average_exactly() {
        let mut a = LoadSummary::default();
        a.add(&Second {
            lag_p90_ms: Some(0.5),
            pool_waits: 3,
            pool_wait_us: 30_000,
            ..Second::default()
        });
        a.add(&Second {
            pool_waits: 1,
            pool_wait_us: 50_000,
            ..Second::default()
        });
        assert_eq!((a.pool_waits, a.pool_wait_ms_mean), (4, 20.0));
        let b = LoadSummary {
            pool_waits: 6,
            pool_wait_ms_mean: 5.0,
            ..LoadSummary::default()
        };
        let both = GeneratorLoad::of_agents(BTreeMap::from([("a".into(), a), ("b".into(), b)]));
        // (4 × 20 + 6 × 5) / 10.
        assert_eq!(
            (both.summary.pool_waits, both.summary.pool_wait_ms_mean),
            (10, 11.0)
        );
        let said = both.bottleneck(0).expect("a limit");
        assert!(
            said.starts_with(
                "the target could not keep up: 10 request(s) waited for a free connection (11.0 ms"
            ),
            "{said}"
        );
        assert!(both
            .bottleneck(2)
            .unwrap()
            .contains("2 arrival(s) dropped at max_inflight, 10 request(s)"));
    }

    #[test]
    fn the_cpu_share_travels_in_the_window() {
        let mut window = Recorded::new(1, 1, 1);
        assert_eq!(Second::of(&window).cpu, None);
        window.generator = GeneratorCounts {
            cpu_us: 300_000,
            cores_us: 2_000_000,
        };
        let mut other = Recorded::new(1, 1, 1);
        other.generator = GeneratorCounts {
            cpu_us: 1_700_000,
            cores_us: 2_000_000,
        };
        assert_eq!(Second::of(&window).cpu, Some(0.15));
        window.merge(&other);
        assert_eq!(Second::of(&window).cpu, Some(0.5));
        let mut meter = CpuMeter::new(1);
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        let spent = meter.take();
        // Other tests' threads share this process: its CPU may exceed one core's worth.
        assert!(spent.cpu_us > 0 && spent.cores_us > 0, "{spent:?}");
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spent = process_cpu().expect("getrusage answers");
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(process_cpu().expect("getrusage answers") > spent);
    }
}
