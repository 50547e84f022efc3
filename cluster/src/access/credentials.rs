//! Who this process is to ZooKeeper: credentials read from a file (never from the command
//! line, where `ps` and shell histories would show them), and the ACL identity they prove.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use sha1::{Digest, Sha1};

use crate::error::ClusterError;

/// A login to ZooKeeper, as an auth file holds it: `digest:USER:PASSWORD` (ZooKeeper's
/// built-in digest scheme) or `sasl:USER:PASSWORD` (SASL DIGEST-MD5, checked by the server's
/// JAAS configuration).
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    Digest { user: String, password: String },
    Sasl { user: String, password: String },
}

impl Credentials {
    /// Reads an auth file: one line, surrounding blank space ignored.
    pub fn read(path: &Path) -> Result<Credentials, ClusterError> {
        let bad = |why: String| ClusterError::BadCredentials {
            file: path.display().to_string(),
            why,
        };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        text.trim().parse().map_err(bad)
    }

    pub fn user(&self) -> &str {
        match self {
            Credentials::Digest { user, .. } | Credentials::Sasl { user, .. } => user,
        }
    }

    /// The id ZooKeeper gives a session that logged in with these: what ACLs name.
    pub fn identity(&self) -> Identity {
        match self {
            Credentials::Digest { user, password } => Identity::Digest {
                user: user.clone(),
                hash: digest_hash(user, password),
            },
            Credentials::Sasl { user, .. } => Identity::Sasl { user: user.clone() },
        }
    }
}

/// The password never reaches a log through `{:?}`.
impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self {
            Credentials::Digest { .. } => "digest",
            Credentials::Sasl { .. } => "sasl",
        };
        write!(f, "Credentials({scheme}:{}:***)", self.user())
    }
}

impl FromStr for Credentials {
    type Err = String;

    fn from_str(line: &str) -> Result<Credentials, String> {
        let (scheme, rest) = line
            .split_once(':')
            .ok_or("expected `digest:USER:PASSWORD` or `sasl:USER:PASSWORD`")?;
        // The password is everything after the user's colon: it may hold colons itself.
        let (user, password) = rest
            .split_once(':')
            .ok_or("expected `SCHEME:USER:PASSWORD`: the password is missing")?;
        if user.is_empty() || password.is_empty() {
            return Err("the user and the password must not be empty".into());
        }
        if line.contains('\n') {
            return Err("an auth file holds one line".into());
        }
        let (user, password) = (user.to_owned(), password.to_owned());
        match scheme {
            "digest" => Ok(Credentials::Digest { user, password }),
            "sasl" => Ok(Credentials::Sasl { user, password }),
            other => Err(format!(
                "unknown scheme {other:?}: expected `digest` or `sasl`"
            )),
        }
    }
}

/// An identity ACLs grant rights to: `digest:USER:HASH` or `sasl:USER`, as ZooKeeper writes
/// them. Role files (`ptl zk init`) list these, so nobody hands the admin a password.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Identity {
    Digest { user: String, hash: String },
    Sasl { user: String },
}

impl Identity {
    /// ZooKeeper's scheme and id.
    pub fn scheme_and_id(&self) -> (&'static str, String) {
        match self {
            Identity::Digest { user, hash } => ("digest", format!("{user}:{hash}")),
            Identity::Sasl { user } => ("sasl", user.clone()),
        }
    }

    pub fn from_scheme_and_id(scheme: &str, id: &str) -> Option<Identity> {
        format!("{scheme}:{id}").parse().ok()
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, id) = self.scheme_and_id();
        write!(f, "{scheme}:{id}")
    }
}

impl FromStr for Identity {
    type Err = String;

    fn from_str(text: &str) -> Result<Identity, String> {
        let mut parts = text.splitn(3, ':');
        match (parts.next(), parts.next(), parts.next()) {
            (Some("digest"), Some(user), Some(hash)) if !user.is_empty() => {
                let decoded = base64::engine::general_purpose::STANDARD.decode(hash);
                if decoded.map(|d| d.len()) != Ok(20) {
                    return Err(format!(
                        "{text:?}: the digest hash must be base64 of 20 bytes (`ptl zk id` prints it)"
                    ));
                }
                Ok(Identity::Digest {
                    user: user.to_owned(),
                    hash: hash.to_owned(),
                })
            }
            (Some("sasl"), Some(user), None) if !user.is_empty() => Ok(Identity::Sasl {
                user: user.to_owned(),
            }),
            _ => Err(format!(
                "{text:?} is not an identity: expected `digest:USER:HASH` or `sasl:USER`"
            )),
        }
    }
}

/// ZooKeeper's digest scheme: base64(SHA-1("user:password")).
fn digest_hash(user: &str, password: &str) -> String {
    let sum = Sha1::digest(format!("{user}:{password}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_identity_matches_zookeepers_generator() {
        // base64(sha1("super:secret")), as DigestAuthenticationProvider.generateDigest computes it.
        let creds: Credentials = "digest:super:secret".parse().unwrap();
        assert_eq!(
            creds.identity().to_string(),
            "digest:super:lK75jTNcA+U9vtVEw5vB51mj/w4="
        );
    }

    #[test]
    fn passwords_may_hold_colons_and_never_print() {
        let creds: Credentials = "sasl:agent-1:a:b:c".parse().unwrap();
        assert_eq!(
            creds,
            Credentials::Sasl {
                user: "agent-1".into(),
                password: "a:b:c".into()
            }
        );
        assert!(!format!("{creds:?}").contains("a:b:c"));
        assert_eq!(creds.identity().to_string(), "sasl:agent-1");
    }

    #[test]
    fn bad_lines_say_what_is_expected() {
        for line in ["digest:alice", "plain:a:b", "digest::pw", "nothing"] {
            assert!(line.parse::<Credentials>().is_err(), "{line}");
        }
        assert!("digest:alice:short".parse::<Identity>().is_err());
        assert!("sasl:".parse::<Identity>().is_err());
        let id: Identity = "digest:super:lK75jTNcA+U9vtVEw5vB51mj/w4=".parse().unwrap();
        assert_eq!(id.to_string().parse::<Identity>().unwrap(), id);
    }
}
