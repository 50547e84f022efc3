//! Think times, in a scenario (`think …` between steps) or a closed phase (`users N for D think
//! …`): a duration, a uniform range of durations, or `exponential(mean)`.

use ptl_bytecode::Think;

use crate::ast::{ThinkTime, ValueKind};
use crate::check::values::Want;
use crate::check::{CheckContext, Sink};
use crate::diagnostic::Diagnostic;
use crate::source::FileId;
use ptl_bytecode::rounded_duration_text;

/// The think time `t`, or `None` after reporting what is wrong with it.
pub fn think_time(
    cx: &CheckContext<'_>,
    sink: &mut Sink,
    file: FileId,
    t: &ThinkTime,
) -> Option<Think> {
    let p = cx.params();
    match t {
        ThinkTime::Exponential { mean, .. } => {
            let context = "`exponential(…)` takes the mean think time, a duration";
            let mean_us = sink.take(file, p.positive_us(mean, "mean think time", context))?;
            Some(Think::Exponential { mean_us })
        }
        ThinkTime::Value(v) => {
            let context = "`think` takes a duration, a range of durations or `exponential(…)`";
            let r = p.resolve(v);
            match r.kind {
                ValueKind::Range(a, b) => {
                    let min = sink.take(file, p.duration_us(a, context));
                    let max = sink.take(file, p.duration_us(b, context));
                    let (min_us, max_us) = (min?, max?);
                    if min_us > max_us {
                        sink.push(
                            file,
                            Diagnostic::ThinkRange {
                                min: rounded_duration_text(min_us),
                                max: rounded_duration_text(max_us),
                                span: v.span.into(),
                            },
                        );
                        return None;
                    }
                    Some(Think::Uniform { min_us, max_us })
                }
                ValueKind::Duration(_) => {
                    sink.take(file, p.duration_us(v, context)).map(Think::fixed)
                }
                _ => {
                    sink.push(file, p.wrong(Want::Duration, r, context));
                    None
                }
            }
        }
    }
}
