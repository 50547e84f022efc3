//! What the commands serving the dashboard share (`ptl run --dashboard`, `ptl coordinator
//! --http`): the server's settings from the flags: where, who may look and control, and the
//! TLS identity, whose files are read and checked before anything starts.

use crate::exit::Exit;
use crate::flags::{DashboardAccessArgs, DashboardTlsArgs};
use crate::output::fail;
use ptl_dashboard::access::Access;
use ptl_dashboard::tls::ServerTls;
use ptl_dashboard::ServerConfig;
use std::net::SocketAddr;

/// The server to start at `addr` (`None`: no dashboard), or a usage error: a certificate or
/// key that cannot serve, or TLS flags without `serve_flag` (the flag giving the address).
pub fn server_config(
    addr: Option<SocketAddr>,
    access: &DashboardAccessArgs,
    tls: &DashboardTlsArgs,
    serve_flag: &str,
) -> Result<Option<ServerConfig>, Exit> {
    // clap requires the two TLS flags together; a pair is all that can reach here.
    let identity = tls
        .http_tls_cert
        .as_deref()
        .zip(tls.http_tls_key.as_deref());
    let Some(addr) = addr else {
        if identity.is_some() {
            return Err(fail(
                Exit::Usage,
                format!("--http-tls-cert and --http-tls-key serve the dashboard: add {serve_flag}"),
            ));
        }
        return Ok(None);
    };
    let tls = identity
        .map(|(cert, key)| ServerTls::load(cert, key))
        .transpose()
        .map_err(|e| fail(Exit::Usage, format!("dashboard: {e}")))?;
    Ok(Some(ServerConfig {
        addr,
        access: self::access(access),
        tls,
        ..ServerConfig::default()
    }))
}

/// Who may look at and control a dashboard, from the flags.
fn access(args: &DashboardAccessArgs) -> Access {
    Access {
        operator_token: args.token.clone().filter(|t| !t.is_empty()),
        viewer_token: args.viewer_token.clone().filter(|t| !t.is_empty()),
        open_view: args.open_view,
    }
}
