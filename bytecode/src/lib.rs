//! ptl-bytecode: the compiled plan ([`plan`]) and its binary format, the contract between the
//! compiler and the agents. [`encode`] and [`decode`] convert between the two; [`hash`] names an
//! encoded plan; [`disassemble`] and [`inspect`] print one, writing durations with
//! [`duration_text`] as everything else that writes a µs count does. The format:
//! `docs/bytecode.md`.

pub mod decode;
pub mod disasm;
pub mod durations;
pub mod encode;
pub mod error;
pub mod format;
pub mod hash;
pub mod plan;
mod reader;

pub use decode::{decode, sources};
pub use disasm::{disassemble, inspect};
pub use durations::{duration_text, rounded_duration_text};
pub use encode::{encode, encode_as, encode_with_sources};
pub use error::{DecodeError, HashParseError};
pub use format::{FORMAT_VERSION, MAGIC};
pub use hash::{hash, PlanHash};
pub use plan::*;
