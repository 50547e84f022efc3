//! What the cluster commands share: ZooKeeper settings from the flags, the async runtime, a
//! default name for this process, and how a cluster error becomes an exit status. (The
//! shutdown signal is `signals`.)

use crate::exit::Exit;
use crate::flags::{TrustArgs, ZkArgs};
use crate::output::fail;
use ptl_cluster::access::Credentials;
use ptl_cluster::signing::TrustedKeys;
use ptl_cluster::zk::{ZkConfig, ZkTls};
use ptl_cluster::ClusterError;
use std::sync::Arc;

/// The ZooKeeper settings of the flags; a login or TLS file that cannot be read is a usage
/// error.
pub fn zk_config(args: &ZkArgs) -> Result<ZkConfig, Exit> {
    let credentials = match &args.auth_file {
        Some(file) => Some(Credentials::read(file).map_err(|e| fail(Exit::Usage, e))?),
        None => None,
    };
    let identity = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
    let tls = match &args.tls_ca {
        Some(ca) => Some(ZkTls::read(ca, identity).map_err(|e| fail(Exit::Usage, e))?),
        None => None,
    };
    Ok(ZkConfig::new(args.connect.trim())
        .with_chroot(args.chroot.clone())
        .with_connect_timeout(args.connect_timeout)
        .with_session_timeout(args.session_timeout)
        .with_credentials(credentials)
        .with_tls(tls))
}

/// The runtime the ZooKeeper client and the coordination tasks run on. The load generator of
/// an agent has its own worker threads, so two threads are plenty here.
pub fn runtime() -> Result<tokio::runtime::Runtime, Exit> {
    crate::runtime::start(tokio::runtime::Builder::new_multi_thread().worker_threads(2))
}

/// `host-pid`: unique enough to tell processes apart in `ptl status`, and stable for the
/// life of the process.
pub fn default_name() -> String {
    format!("{}-{}", host_name(), std::process::id())
}

/// The machine's host name (in a container, the container's or pod's name).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// The keys of `--trusted-keys`, read at start: a directory without a readable public key is a
/// usage error, never a fleet left open by a typo.
pub fn trusted_keys(args: &TrustArgs, who: &str) -> Result<Option<Arc<TrustedKeys>>, Exit> {
    let Some(dir) = &args.trusted_keys else {
        return Ok(None);
    };
    let keys = TrustedKeys::read_dir(dir).map_err(|e| fail(Exit::Usage, e))?;
    eprintln!(
        "{who}: runs only plans signed by one of the {} key(s) in {}",
        keys.len(),
        dir.display()
    );
    Ok(Some(Arc::new(keys)))
}

/// Prints the error; every cluster failure (unreachable ZooKeeper, a failed or timed-out run,
/// a run that does not exist) is a run that could not be carried out.
pub fn cluster_failure(error: ClusterError) -> Exit {
    fail(Exit::RunFailed, error)
}
