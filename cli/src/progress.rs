//! The live view of a run: a progress bar on a terminal, plain periodic lines otherwise.
//!
//! The engine calls back once a second from its collector; nothing here touches the
//! request path, so the display cannot slow the generator.

use indicatif::{ProgressBar, ProgressStyle};
use ptl_engine::Progress;
use std::io::IsTerminal;
use std::time::Duration;

/// Plain lines are printed this often (and at every phase change) when stderr is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

pub struct LiveView {
    bar: Option<ProgressBar>,
}

impl LiveView {
    /// `total` is the planned length of the run.
    pub fn new(total: Duration, quiet: bool) -> LiveView {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(total.as_secs().max(1));
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30.cyan/blue}] {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar
        });
        LiveView { bar }
    }

    /// The callback to hand to the engine.
    pub fn callback(&self, quiet: bool) -> Option<ptl_engine::runner::ProgressFn> {
        if quiet {
            return None;
        }
        if let Some(bar) = self.bar.clone() {
            return Some(Box::new(move |p: &Progress| {
                bar.set_position(p.elapsed.as_secs());
                bar.set_message(line(p));
            }));
        }
        let mut last_print: Option<Duration> = None;
        let mut last_phase: Option<String> = None;
        let mut last_paused = false;
        Some(Box::new(move |p: &Progress| {
            let due = last_print.is_none_or(|t| p.elapsed >= t + PLAIN_EVERY);
            if due || p.phase != last_phase || p.paused != last_paused {
                eprintln!("[{:>6.1}s] {}", p.elapsed.as_secs_f64(), line(p));
                last_print = Some(p.elapsed);
                last_phase = p.phase.clone();
                last_paused = p.paused;
            }
        }))
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn line(p: &Progress) -> String {
    let phase = match (p.phase.as_deref(), p.paused) {
        (Some(name), true) => format!("{name} PAUSED"),
        (Some(name), false) => name.to_string(),
        (None, _) => "draining".to_string(),
    };
    // A phase that has just begun has no response yet: say so rather than print 0 ms.
    let latency = if p.p99_ms > 0.0 {
        format!("p50 {:.1}ms p99 {:.1}ms", p.p50_ms, p.p99_ms)
    } else {
        "p50 - p99 -".to_string()
    };
    format!(
        "{phase} ({}s left) | target {:.0}/s achieved {:.0}/s | {latency} | {} req, {} err, {} dropped",
        p.phase_left.as_secs(),
        p.target_rps,
        p.achieved_rps,
        p.requests,
        p.errors,
        p.dropped
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn progress(phase: Option<&str>, paused: bool) -> Progress {
        Progress {
            elapsed: Duration::from_secs(3),
            phase: phase.map(str::to_string),
            phase_index: phase.map(|_| 0),
            phase_left: Duration::from_secs(2),
            run_left: Duration::from_secs(2),
            target_rps: 0.0,
            achieved_rps: 0.0,
            p50_ms: 0.0,
            p99_ms: 0.0,
            requests: 300,
            errors: 0,
            dropped: 0,
            paused,
        }
    }

    #[test]
    fn a_paused_run_says_so() {
        assert!(line(&progress(Some("peak"), true)).starts_with("peak PAUSED (2s left)"));
        assert!(line(&progress(Some("peak"), false)).starts_with("peak (2s left)"));
        assert!(line(&progress(None, false)).starts_with("draining"));
    }
}
