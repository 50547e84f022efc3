//! The run's time series: one point per second, bounded. When `cap` points exist, neighbouring
//! points are merged pairwise and later points each cover twice as many seconds, so a run of any
//! length keeps at most `cap` points. Points built from whole windows are exact; merged points
//! sum their counts and rates exactly, but their percentiles are bounds (p50 averaged, p95/p99/max
//! the larger of the two), as a point's histogram is not kept.

use super::recorder::{add_histogram, new_histogram, Hist};
use crate::result::SeriesPoint;

/// Default bound: two hours of one-second points before the first compaction.
pub const DEFAULT_CAP: usize = 7200;

pub struct SeriesBuilder {
    cap: usize,
    /// Seconds each point covers.
    width: u64,
    points: Vec<SeriesPoint>,
    open: Option<Bucket>,
}

struct Bucket {
    t: u64,
    phase: String,
    sums: Sums,
    response: Hist,
}

/// What the windows of one point add up to, but their response times.
#[derive(Default)]
struct Sums {
    /// Σ target rate × seconds.
    target_weighted: f64,
    seconds: f64,
    windows: u64,
    started: u64,
    errors: u64,
    dropped: u64,
    /// Paused seconds.
    paused: f64,
}

impl Sums {
    fn add(&mut self, w: &Window<'_>) {
        self.target_weighted += w.target_rps * w.seconds;
        self.seconds += w.seconds;
        self.windows += 1;
        self.started += w.started;
        self.errors += w.errors;
        self.dropped += w.dropped;
        self.paused += w.paused.clamp(0.0, 1.0) * w.seconds;
    }

    /// The point at second `t`: rates per second of the windows' time, percentiles of `h`.
    fn point(&self, t: u64, phase: String, h: &Hist) -> SeriesPoint {
        let per_s = |x: f64| {
            if self.seconds > 0.0 {
                x / self.seconds
            } else {
                0.0
            }
        };
        let q = |x: f64| {
            if h.is_empty() {
                0.0
            } else {
                ms(h.value_at_quantile(x))
            }
        };
        SeriesPoint {
            t,
            phase,
            target_rps: per_s(self.target_weighted),
            achieved_rps: per_s(self.started as f64),
            errors: self.errors,
            dropped: self.dropped,
            p50_ms: q(0.50),
            p95_ms: q(0.95),
            p99_ms: q(0.99),
            max_ms: if h.is_empty() { 0.0 } else { ms(h.max()) },
            paused: per_s(self.paused),
        }
    }
}

/// One window's worth of data for the series.
pub struct Window<'a> {
    /// Second of the run this window starts at.
    pub t: u64,
    /// Length of the window in seconds (1, or less for the last one).
    pub seconds: f64,
    pub phase: &'a str,
    pub target_rps: f64,
    /// Arrivals started in the window.
    pub started: u64,
    pub errors: u64,
    pub dropped: u64,
    /// Response times of the window's requests, µs.
    pub response: &'a Hist,
    /// Fraction (0..=1) of the window the run was paused.
    pub paused: f64,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

impl Window<'_> {
    /// This window's point on its own, as a series of one-second points has it (a live view
    /// that revises its newest windows draws them with this).
    pub fn point(&self) -> SeriesPoint {
        let mut sums = Sums::default();
        sums.add(self);
        sums.point(self.t, self.phase.to_string(), self.response)
    }
}

/// Neighbouring points merged pairwise (a last odd one kept as it is): how a series past its
/// cap halves, keeping every count.
pub fn compact(points: Vec<SeriesPoint>) -> Vec<SeriesPoint> {
    let mut merged = Vec::with_capacity(points.len().div_ceil(2));
    let mut it = points.into_iter();
    while let Some(a) = it.next() {
        merged.push(match it.next() {
            Some(b) => a.merged_with(b),
            None => a,
        });
    }
    merged
}

impl SeriesBuilder {
    pub fn new(cap: usize) -> SeriesBuilder {
        SeriesBuilder {
            cap: cap.max(2),
            width: 1,
            points: Vec::new(),
            open: None,
        }
    }

    pub fn width(&self) -> u64 {
        self.width
    }

    pub fn push(&mut self, w: Window<'_>) {
        let bucket = self.open.get_or_insert_with(|| Bucket {
            t: w.t,
            phase: w.phase.to_string(),
            sums: Sums::default(),
            response: new_histogram(),
        });
        bucket.sums.add(&w);
        add_histogram(&mut bucket.response, w.response);
        if bucket.sums.windows >= self.width {
            self.close();
        }
    }

    fn close(&mut self) {
        let Some(b) = self.open.take() else {
            return;
        };
        self.points.push(b.sums.point(b.t, b.phase, &b.response));
        if self.points.len() >= self.cap {
            self.points = compact(std::mem::take(&mut self.points));
            self.width *= 2;
        }
    }

    /// The points so far (an open bucket is not included).
    pub fn points(&self) -> &[SeriesPoint] {
        &self.points
    }

    pub fn finish(mut self) -> Vec<SeriesPoint> {
        self.close();
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_seconds(s: &mut SeriesBuilder, n: u64) {
        let mut h = new_histogram();
        for t in 0..n {
            h.reset();
            crate::record::recorder::record_value(&mut h, 1000 * (t + 1));
            s.push(Window {
                t,
                seconds: 1.0,
                phase: "p",
                target_rps: 10.0,
                started: 10,
                errors: 1,
                dropped: 0,
                response: &h,
                paused: if t % 4 == 0 { 0.5 } else { 0.0 },
            });
        }
    }

    #[test]
    fn one_point_per_second_until_the_cap() {
        let mut s = SeriesBuilder::new(100);
        push_seconds(&mut s, 5);
        let points = s.finish();
        assert_eq!(points.len(), 5);
        assert_eq!(points[3].t, 3);
        assert_eq!(points[3].achieved_rps, 10.0);
        assert!((points[3].max_ms - 4.0).abs() < 0.01, "{:?}", points[3]);
        assert_eq!((points[3].paused, points[4].paused), (0.0, 0.5));
    }

    #[test]
    fn long_runs_stay_bounded_and_keep_totals() {
        let mut s = SeriesBuilder::new(16);
        push_seconds(&mut s, 1000);
        let points = s.finish();
        assert!(points.len() <= 16, "{} points", points.len());
        let errors: u64 = points.iter().map(|p| p.errors).sum();
        assert_eq!(errors, 1000, "every second's errors are still counted");
        assert!(points.windows(2).all(|w| w[0].t < w[1].t));
        assert!(points.iter().all(|p| (p.achieved_rps - 10.0).abs() < 1e-9));
        // Half of every fourth second was paused: merged points keep the share.
        let full: Vec<_> = points[..points.len() - 1]
            .iter()
            .map(|p| p.paused)
            .collect();
        assert!(full.iter().all(|f| (f - 0.125).abs() < 1e-9), "{full:?}");
    }
}
