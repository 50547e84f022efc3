//! A plan's identity: SHA-256 of its encoded bytes. Encoding is canonical (one plan, one byte
//! string), so equal plans of the same format version have equal hashes, and the cluster can
//! store and deduplicate plans under it.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use crate::error::HashParseError;

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PlanHash(pub [u8; 32]);

/// Hashes an encoded plan (the whole output of [`crate::encode`], header included).
pub fn hash(bytes: &[u8]) -> PlanHash {
    PlanHash(Sha256::digest(bytes).into())
}

impl PlanHash {
    /// Length of [`PlanHash::short`]: 48 bits, plenty to tell a user's plans apart.
    pub const SHORT_LEN: usize = 12;

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// All 64 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        self.to_string()
    }

    /// The first 12 hex digits, for display.
    pub fn short(&self) -> String {
        let mut s = self.to_hex();
        s.truncate(Self::SHORT_LEN);
        s
    }
}

impl fmt::Display for PlanHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PlanHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PlanHash({self})")
    }
}

impl FromStr for PlanHash {
    type Err = HashParseError;

    /// Parses the full 64-digit hex form (either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.as_bytes();
        if s.len() != 64 {
            return Err(HashParseError {
                reason: "expected 64 hex digits",
            });
        }
        let mut out = [0u8; 32];
        for (byte, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
            *byte = (hex_digit(pair[0])? << 4) | hex_digit(pair[1])?;
        }
        Ok(PlanHash(out))
    }
}

fn hex_digit(c: u8) -> Result<u8, HashParseError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HashParseError {
            reason: "non-hex character",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_sha256_test_vector() {
        // FIPS 180-2 example "abc".
        assert_eq!(
            hash(b"abc").to_string(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hash(b"abc").short(), "ba7816bf8f01");
    }

    #[test]
    fn parses_what_it_prints() {
        let h = hash(b"some plan bytes");
        assert_eq!(h.to_hex().parse::<PlanHash>(), Ok(h));
        assert_eq!(h.to_hex().to_uppercase().parse::<PlanHash>(), Ok(h));
        assert!("abc".parse::<PlanHash>().is_err());
        let mut bad = h.to_hex();
        bad.replace_range(10..11, "g");
        assert!(bad.parse::<PlanHash>().is_err());
    }

    #[test]
    fn different_bytes_hash_differently() {
        assert_ne!(hash(b"plan a"), hash(b"plan b"));
    }
}
