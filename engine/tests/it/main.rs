//! The engine against real servers on 127.0.0.1: HTTP/1.1, HTTP/2, HTTPS, pauses, share changes,
//! response checks and think times.
//!
//! One test binary for the crate (linking is paid once, not once per file); each module is
//! what used to be its own `tests/NAME.rs`.

mod checks;
mod engine;
mod engine_support;
mod http2;
mod https;
mod pause;
mod share_change;
mod think;
