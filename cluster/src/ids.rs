//! Typed names of the things kept in ZooKeeper: plan hashes, agents and runs.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ClusterError;

/// Hex SHA-256 of a plan's bytecode: its content address (the `plan_hash` of a result).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PlanHash(String);

impl PlanHash {
    pub fn of(bytecode: &[u8]) -> PlanHash {
        let digest = Sha256::digest(bytecode);
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push_str(&format!("{byte:02x}"));
        }
        PlanHash(hex)
    }

    pub fn parse(text: &str) -> Result<PlanHash, ClusterError> {
        let valid = text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if valid {
            Ok(PlanHash(text.to_owned()))
        } else {
            Err(ClusterError::BadPlanHash(text.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PlanHash {
    type Error = ClusterError;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        PlanHash::parse(&text)
    }
}

impl From<PlanHash> for String {
    fn from(hash: PlanHash) -> String {
        hash.0
    }
}

impl fmt::Display for PlanHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An agent's registration: the name of its ephemeral sequential node, `agent-0000000007`.
/// Its sequence number orders agents (and their share index) stably.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AgentId(pub String);

impl AgentId {
    /// The ZooKeeper sequence number, when the name carries one.
    pub fn sequence(&self) -> Option<i64> {
        self.0.rsplit('-').next().and_then(|s| s.parse().ok())
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A run: the name of its persistent sequential node, `run-0000000003`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RunId(pub String);

impl RunId {
    /// Accepts `run-0000000003` or the bare number `3`, as users type it.
    pub fn parse(text: &str) -> Option<RunId> {
        let digits = text.strip_prefix("run-").unwrap_or(text);
        let number: u64 = digits.parse().ok()?;
        Some(RunId(format!("run-{number:010}")))
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_hash_is_hex_sha256() {
        // SHA-256 of the empty string, a published test vector.
        assert_eq!(
            PlanHash::of(b"").as_str(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(PlanHash::parse(PlanHash::of(b"x").as_str()).is_ok());
        assert!(PlanHash::parse("E3B0").is_err());
        assert!(PlanHash::parse("../etc/passwd").is_err());
    }

    #[test]
    fn run_ids_accept_the_bare_number() {
        assert_eq!(RunId::parse("3"), Some(RunId("run-0000000003".into())));
        assert_eq!(
            RunId::parse("run-0000000003"),
            Some(RunId("run-0000000003".into()))
        );
        assert_eq!(RunId::parse("run-x"), None);
    }

    #[test]
    fn agent_sequence_is_parsed_from_the_node_name() {
        assert_eq!(AgentId("agent-0000000042".into()).sequence(), Some(42));
        assert_eq!(AgentId("agent".into()).sequence(), None);
    }
}
