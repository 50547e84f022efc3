//! Why a byte string is not a plan this build can run. Every error names the byte offset where
//! the decoder found the problem and what it was reading, so a corrupt or hostile file can be
//! diagnosed with a hex dump.

use crate::format::FORMAT_VERSION;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a ptl plan: expected magic \"PTLC\" at byte 0, found {found:02x?}")]
    BadMagic { found: Vec<u8> },

    #[error("plan format v{found} is newer than this ptl (supports v{supported}); upgrade ptl")]
    NewerVersion { found: u16, supported: u16 },

    #[error("plan format v{found} is older than any this ptl reads (supports v{oldest} to v{FORMAT_VERSION})")]
    OlderVersion { found: u16, oldest: u16 },

    #[error("at byte {offset}: unknown header flags {flags:#06x}; this plan needs a newer ptl")]
    UnknownFlags { offset: usize, flags: u16 },

    #[error("at byte {offset}: plan is corrupt: payload CRC-32 is {actual:#010x}, header says {expected:#010x}")]
    ChecksumMismatch {
        offset: usize,
        expected: u32,
        actual: u32,
    },

    #[error("at byte {offset}: truncated {what}: needs {needed} byte(s), {available} left")]
    Truncated {
        offset: usize,
        what: &'static str,
        needed: u64,
        available: usize,
    },

    #[error("at byte {offset}: {count} unexpected byte(s) after {what}")]
    TrailingBytes {
        offset: usize,
        what: &'static str,
        count: usize,
    },

    #[error("at byte {offset}: unknown {what} tag {tag}")]
    BadTag {
        offset: usize,
        what: &'static str,
        tag: u8,
    },

    #[error("at byte {offset}: {what} does not fit in {bits} bits")]
    IntegerTooLarge {
        offset: usize,
        what: &'static str,
        bits: u8,
    },

    #[error("at byte {offset}: {what} has an over-long varint encoding (not canonical)")]
    NonCanonicalVarint { offset: usize, what: &'static str },

    #[error("at byte {offset}: {what} is not valid UTF-8")]
    BadUtf8 { offset: usize, what: &'static str },

    #[error("at byte {offset}: {what} is {}, not a finite number", f64::from_bits(*bits))]
    NotFinite {
        offset: usize,
        what: &'static str,
        bits: u64,
    },

    #[error("at byte {offset}: {what} says {len} but only {remaining} byte(s) are left")]
    LengthTooLarge {
        offset: usize,
        what: &'static str,
        len: u64,
        remaining: usize,
    },

    #[error("at byte {offset}: expected the {expected} section (id {expected_id}), found section id {found}")]
    UnexpectedSection {
        offset: usize,
        expected: &'static str,
        expected_id: u8,
        found: u8,
    },

    #[error("at byte {offset}: {what} {index} is out of range ({count} defined)")]
    BadIndex {
        offset: usize,
        what: &'static str,
        index: u64,
        count: u64,
    },

    /// Well-formed bytes describing a plan the runtime cannot run (an empty choice, an inverted
    /// range, shares that do not add up…).
    #[error("at byte {offset}: {problem}")]
    Invalid { offset: usize, problem: String },
}

impl DecodeError {
    /// Where in the input the problem was found. Version errors are at byte 4 and bad magic at
    /// byte 0.
    pub fn offset(&self) -> usize {
        match self {
            DecodeError::BadMagic { .. } => 0,
            DecodeError::NewerVersion { .. } | DecodeError::OlderVersion { .. } => {
                crate::format::VERSION_OFFSET
            }
            DecodeError::UnknownFlags { offset, .. }
            | DecodeError::ChecksumMismatch { offset, .. }
            | DecodeError::Truncated { offset, .. }
            | DecodeError::TrailingBytes { offset, .. }
            | DecodeError::BadTag { offset, .. }
            | DecodeError::IntegerTooLarge { offset, .. }
            | DecodeError::NonCanonicalVarint { offset, .. }
            | DecodeError::BadUtf8 { offset, .. }
            | DecodeError::NotFinite { offset, .. }
            | DecodeError::LengthTooLarge { offset, .. }
            | DecodeError::UnexpectedSection { offset, .. }
            | DecodeError::BadIndex { offset, .. }
            | DecodeError::Invalid { offset, .. } => *offset,
        }
    }
}

/// A string that is not a plan hash: 64 lowercase or uppercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a plan hash: {reason}")]
pub struct HashParseError {
    pub reason: &'static str,
}
