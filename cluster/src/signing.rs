//! Signed plans: who may aim the fleet. A submitter signs what a run will do — the plan's hash,
//! the params as used, the target, its own name and when — with an Ed25519 key
//! (`ptl keygen`, `ptl submit --sign-key`); coordinators and agents started with
//! `--trusted-keys DIR` refuse a run that is unsigned, signed by a key not in `DIR`, or whose
//! signed content differs from what is stored. The bytecode itself is covered by its hash:
//! `plan_store::load` refuses a chunk altered in ZooKeeper, and the hash is what was signed.
//!
//! Key files are one line of text: `ptl-ed25519-secret <name> <base64 seed>` (kept private,
//! mode 0600) and `ptl-ed25519-public <name> <base64 key>` beside it (`<file>.pub`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use ptl_bytecode::Plan;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ClusterError;
use crate::run::RunSpec;

const SECRET_TAG: &str = "ptl-ed25519-secret";
const PUBLIC_TAG: &str = "ptl-ed25519-public";

/// What a signature covers (signed as its JSON, fields in this order, params sorted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedContent {
    /// Hex SHA-256 of the bytecode.
    pub plan_hash: String,
    pub params: BTreeMap<String, String>,
    /// The plan's target as compiled (params applied).
    pub target: String,
    /// The key's name: who submitted.
    pub submitter: String,
    /// When it was signed, Unix ms.
    pub signed_at_ms: i64,
}

/// A run's signature, stored in its spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSignature {
    /// The signing key's id: the first 16 hex digits of the SHA-256 of its public key.
    pub key_id: String,
    pub content: SignedContent,
    /// Base64 of the Ed25519 signature of the content's JSON.
    pub signature: String,
}

impl PlanSignature {
    /// `name (key id)`, as results and logs show the signer.
    pub fn signer(&self) -> String {
        format!("{} ({})", self.content.submitter, self.key_id)
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn key_id(key: &VerifyingKey) -> String {
    let digest = Sha256::digest(key.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn bad_key(path: &Path, why: impl std::fmt::Display) -> ClusterError {
    ClusterError::BadKey(format!("{}: {why}", path.display()))
}

/// A submitter's private key and its name.
pub struct PlanSigner {
    name: String,
    key: SigningKey,
}

/// Shows the name and key id, never the key.
impl std::fmt::Debug for PlanSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PlanSigner({} {})", self.name, self.key_id())
    }
}

impl PlanSigner {
    /// A new key named `name`, from the operating system's randomness (through the thread
    /// RNG, a CSPRNG seeded from it).
    pub fn generate(name: &str) -> PlanSigner {
        let seed: [u8; 32] = rand::random();
        PlanSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        }
    }

    /// Writes the private key to `path` (mode 0600, never over an existing file) and the
    /// public key to `path.pub`; returns the public key's path.
    pub fn write(&self, path: &Path) -> Result<PathBuf, ClusterError> {
        use std::io::Write;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(|e| bad_key(path, e))?;
        let secret = b64().encode(self.key.to_bytes());
        writeln!(file, "{SECRET_TAG} {} {secret}", self.name).map_err(|e| bad_key(path, e))?;
        let public_path = public_path(path);
        let public = b64().encode(self.key.verifying_key().as_bytes());
        std::fs::write(
            &public_path,
            format!("{PUBLIC_TAG} {} {public}\n", self.name),
        )
        .map_err(|e| bad_key(&public_path, e))?;
        Ok(public_path)
    }

    pub fn read(path: &Path) -> Result<PlanSigner, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|e| bad_key(path, e))?;
        let (name, bytes) = parse_line(&text, SECRET_TAG).map_err(|why| bad_key(path, why))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| bad_key(path, "a secret key is 32 bytes"))?;
        Ok(PlanSigner {
            name,
            key: SigningKey::from_bytes(&seed),
        })
    }

    pub fn key_id(&self) -> String {
        key_id(&self.key.verifying_key())
    }

    /// Signs what a run of `plan` (hash `plan_hash`) with `params` will do.
    pub fn sign(
        &self,
        plan_hash: &str,
        params: &BTreeMap<String, String>,
        plan: &Plan,
        now_ms: i64,
    ) -> PlanSignature {
        let content = SignedContent {
            plan_hash: plan_hash.to_owned(),
            params: params.clone(),
            target: plan.target.clone(),
            submitter: self.name.clone(),
            signed_at_ms: now_ms,
        };
        let bytes = serde_json::to_vec(&content).unwrap_or_default();
        PlanSignature {
            key_id: self.key_id(),
            signature: b64().encode(self.key.sign(&bytes).to_bytes()),
            content,
        }
    }
}

/// `team.key` → `team.key.pub`.
pub fn public_path(secret: &Path) -> PathBuf {
    let mut name = secret.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// `<tag> <name> <base64>` → (name, bytes).
fn parse_line(text: &str, tag: &str) -> Result<(String, Vec<u8>), String> {
    let mut words = text.split_whitespace();
    if words.next() != Some(tag) {
        return Err(format!("not a ptl key file (it should start with `{tag}`)"));
    }
    let (Some(name), Some(data), None) = (words.next(), words.next(), words.next()) else {
        return Err(format!("expected `{tag} <name> <base64>`"));
    };
    let bytes = b64()
        .decode(data)
        .map_err(|e| format!("the key is not base64: {e}"))?;
    Ok((name.to_owned(), bytes))
}

/// The public keys a coordinator or agent accepts runs from.
#[derive(Debug, Clone, Default)]
pub struct TrustedKeys {
    keys: BTreeMap<String, (String, VerifyingKey)>,
}

impl TrustedKeys {
    /// Every `*.pub` file of `dir`; a directory with none, or a file that is not a ptl public
    /// key, is an error (a typo must not leave the fleet open).
    pub fn read_dir(dir: &Path) -> Result<TrustedKeys, ClusterError> {
        let entries = std::fs::read_dir(dir).map_err(|e| bad_key(dir, e))?;
        let mut keys = BTreeMap::new();
        for entry in entries {
            let path = entry.map_err(|e| bad_key(dir, e))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("pub") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|e| bad_key(&path, e))?;
            let (name, bytes) = parse_line(&text, PUBLIC_TAG).map_err(|why| bad_key(&path, why))?;
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad_key(&path, "a public key is 32 bytes"))?;
            let key = VerifyingKey::from_bytes(&bytes).map_err(|e| bad_key(&path, e))?;
            keys.insert(key_id(&key), (name, key));
        }
        if keys.is_empty() {
            return Err(bad_key(dir, "no public key (*.pub) in it"));
        }
        Ok(TrustedKeys { keys })
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether the run `spec` of `plan` may be run: `Ok(signer)` or why not.
    pub fn check(&self, spec: &RunSpec, plan: &Plan) -> Result<String, String> {
        let Some(signed) = &spec.signature else {
            return Err("the plan is not signed, and only signed plans are run here".into());
        };
        let Some((_, key)) = self.keys.get(&signed.key_id) else {
            return Err(format!(
                "signed by key {}, which is not a trusted key here",
                signed.key_id
            ));
        };
        let signature = b64()
            .decode(&signed.signature)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
            .ok_or("the signature is malformed")?;
        let bytes = serde_json::to_vec(&signed.content).map_err(|e| e.to_string())?;
        key.verify(&bytes, &signature)
            .map_err(|_| "the signature does not match what was signed".to_string())?;
        let content = &signed.content;
        if content.plan_hash != spec.plan_hash.to_string() {
            return Err("the run's plan is not the one that was signed".into());
        }
        if content.params != spec.params {
            return Err("the run's params are not the ones that were signed".into());
        }
        if content.target != plan.target {
            return Err(format!(
                "the plan targets {}, but {} was signed",
                plan.target, content.target
            ));
        }
        Ok(signed.signer())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::PlanHash;
    use crate::run::LossPolicy;

    fn plan(target: &str) -> Plan {
        ptl_test_support::plans::plan(target, vec![ptl_test_support::plans::rate("s", 1.0, 1.0)])
    }

    fn spec(hash: &str, params: &BTreeMap<String, String>) -> RunSpec {
        RunSpec {
            plan_hash: PlanHash::parse(hash).expect("hash"),
            plan_name: "p".into(),
            params: params.clone(),
            agents: 1,
            agent_wait_ms: 1,
            on_agent_loss: LossPolicy::default(),
            start_delay_ms: 0,
            stagger_ms: 0,
            clock_tolerance_ms: 0,
            bytecode_version: ptl_bytecode::FORMAT_VERSION,
            submitted_at_ms: 0,
            signature: None,
        }
    }

    fn trusted(signers: &[&PlanSigner]) -> (tempfile::TempDir, TrustedKeys) {
        let dir = tempfile::tempdir().expect("dir");
        for (i, s) in signers.iter().enumerate() {
            s.write(&dir.path().join(format!("k{i}.key")))
                .expect("write");
        }
        let keys = TrustedKeys::read_dir(dir.path()).expect("read");
        (dir, keys)
    }

    const HASH: &str = "0000000000000000000000000000000000000000000000000000000000000001";

    #[test]
    fn a_signed_run_passes_and_names_its_signer() {
        let team = PlanSigner::generate("team");
        let (_dir, keys) = trusted(&[&team]);
        let params = BTreeMap::from([("target".to_string(), "http://a".to_string())]);
        let plan = plan("http://a");
        let mut s = spec(HASH, &params);
        s.signature = Some(team.sign(HASH, &params, &plan, 5));
        assert_eq!(
            keys.check(&s, &plan),
            Ok(format!("team ({})", team.key_id()))
        );
    }

    #[test]
    fn unsigned_unknown_and_altered_runs_are_refused() {
        let team = PlanSigner::generate("team");
        let stranger = PlanSigner::generate("stranger");
        let (_dir, keys) = trusted(&[&team]);
        let params = BTreeMap::new();
        let plan = plan("http://a");
        let unsigned = spec(HASH, &params);
        assert!(keys
            .check(&unsigned, &plan)
            .unwrap_err()
            .contains("not signed"));

        let mut by_stranger = spec(HASH, &params);
        by_stranger.signature = Some(stranger.sign(HASH, &params, &plan, 5));
        assert!(keys
            .check(&by_stranger, &plan)
            .unwrap_err()
            .contains("not a trusted key"));

        let mut retargeted = spec(HASH, &params);
        retargeted.signature = Some(team.sign(HASH, &params, &plan, 5));
        assert!(keys
            .check(&retargeted, &super::tests::plan("http://b"))
            .unwrap_err()
            .contains("targets http://b"));

        let mut other_params = spec(HASH, &BTreeMap::from([("n".into(), "1".into())]));
        other_params.signature = Some(team.sign(HASH, &params, &plan, 5));
        assert!(keys
            .check(&other_params, &plan)
            .unwrap_err()
            .contains("params"));

        let mut forged = spec(HASH, &params);
        let mut signature = team.sign(HASH, &params, &plan, 5);
        signature.content.target = "http://evil".into();
        forged.signature = Some(signature);
        assert!(keys
            .check(&forged, &super::tests::plan("http://evil"))
            .unwrap_err()
            .contains("does not match"));
    }

    #[test]
    fn key_files_round_trip_and_bad_ones_are_named() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("team.key");
        let team = PlanSigner::generate("team");
        let public = team.write(&path).expect("write");
        assert_eq!(public, dir.path().join("team.key.pub"));
        assert_eq!(
            PlanSigner::read(&path).expect("read").key_id(),
            team.key_id()
        );
        assert!(team.write(&path).is_err(), "never over an existing key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.path().join("junk.pub"), "hello").expect("write");
        let err = TrustedKeys::read_dir(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("junk.pub") && err.contains("not a ptl key file"),
            "{err}"
        );
        let empty = tempfile::tempdir().expect("dir");
        assert!(TrustedKeys::read_dir(empty.path()).is_err());
    }
}
