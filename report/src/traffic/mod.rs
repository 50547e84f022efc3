//! Traffic realism: reading request logs ([`formats`]: nginx/Apache combined, JSON lines, a ptl
//! request log), folding paths into endpoint patterns ([`patterns`]), the two-sample tests
//! ([`stats`]), the per-dimension comparison of `ptl compare` ([`compare`]) with its text and
//! JSON forms ([`render`]), and the plan `ptl plan-from-log` writes ([`plan`]).

pub mod compare;
pub mod formats;
pub mod patterns;
pub mod plan;
pub mod render;
pub mod stats;

pub use compare::{compare, Comparison};
pub use formats::{LogFormat, Traffic};
