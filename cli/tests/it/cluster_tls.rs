//! TLS to a real ZooKeeper's secure client port (Netty, PEM stores, certificates from a test
//! CA): a fleet given only the TLS port runs a plan exactly; bad TLS files are usage errors
//! naming the file; a server signed by another CA, a port that is not TLS, and (where client
//! certificates are required) a client without one are refused with a clear error, exit 4. A
//! SASL login over TLS with a client certificate secures and reads a chroot.

use crate::cluster::{stderr, write};
use crate::cluster_access::{ptl_as, run_fleet, FleetFlags};
use ptl_test_support::zk_server::{ZkOptions, ZkServer, ZkTlsOptions};
use ptl_test_support::zk_tls::ZkCa;
use std::path::Path;
use std::process::Output;

/// A server with a secure client port whose certificate `ca` signed, and these SASL logins.
fn tls_server(ca: &ZkCa, require_client_cert: bool, sasl_users: &[(&str, &str)]) -> ZkServer {
    let server = ca.server();
    ZkServer::start_with(&ZkOptions {
        tls: Some(ZkTlsOptions {
            key_store_pem: format!("{}{}", server.cert, server.key),
            trust_store_pem: ca.ca_pem.clone(),
            require_client_cert,
        }),
        sasl_users: sasl_users
            .iter()
            .map(|(u, p)| (u.to_string(), p.to_string()))
            .collect(),
    })
}

fn status(connect: &str, flags: &[&str]) -> Output {
    let mut args = vec!["status", "--zk", connect, "--connect-timeout", "5s"];
    args.extend(flags);
    ptl_as(None, &args)
}

#[test]
fn a_fleet_runs_over_tls_and_bad_certificates_are_clear_errors() {
    let ca = ZkCa::new("ptl test ZooKeeper CA");
    let zk = tls_server(&ca, false, &[]);
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let ca_file = write(d, "ca.pem", &ca.ca_pem);
    let tls = vec!["--zk-tls-ca".to_owned(), ca_file.display().to_string()];
    // Only the TLS port is given to ptl.
    let secure = zk.secure_connect_string();
    let ran = run_fleet(
        d,
        &secure,
        &FleetFlags {
            coordinator: tls.clone(),
            agents: vec![tls.clone(), tls.clone()],
            submitter: tls.clone(),
        },
    );
    drop(ran);

    // Files that cannot be used: exit 2, naming the file.
    let garbage = write(d, "garbage.pem", "not a certificate\n");
    let missing = d.join("missing.pem");
    for file in [&garbage, &missing] {
        let o = status(&secure, &["--zk-tls-ca", &file.display().to_string()]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(
            stderr(&o).contains(&file.display().to_string()),
            "{}",
            stderr(&o)
        );
    }
    let cert_alone = status(
        &secure,
        &[
            "--zk-tls-ca",
            &ca_file.display().to_string(),
            "--zk-tls-cert",
            &ca_file.display().to_string(),
        ],
    );
    assert_eq!(cert_alone.status.code(), Some(2), "{}", stderr(&cert_alone));

    // A server whose certificate another CA signed: refused at once, with the reason.
    let other = write(d, "other-ca.pem", &ZkCa::new("another CA").ca_pem);
    let o = status(&secure, &["--zk-tls-ca", &other.display().to_string()]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("TLS to ZooKeeper at 127.0.0.1:") && stderr(&o).contains("certificate"),
        "{}",
        stderr(&o)
    );

    // The plain port is not TLS: a clear error once the connect timeout is up.
    let o = status(
        &zk.connect_string(),
        &["--zk-tls-ca", &ca_file.display().to_string()],
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(stderr(&o).contains("secure client port"), "{}", stderr(&o));
}

#[test]
fn where_client_certificates_are_required_a_client_without_one_is_refused() {
    let ca = ZkCa::new("ptl test ZooKeeper CA");
    let zk = tls_server(&ca, true, &[("admin", "admin-sasl-pw")]);
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    let client = ca.client("ptl-agent");
    let ca_file = write(d, "ca.pem", &ca.ca_pem);
    let cert = write(d, "agent.pem", &client.cert);
    let key = write(d, "agent.key", &client.key);
    let secure = zk.secure_connect_string();
    let path = |p: &Path| p.display().to_string();
    let identity = |key: &Path| {
        [
            "--zk-tls-ca".to_owned(),
            path(&ca_file),
            "--zk-tls-cert".to_owned(),
            path(&cert),
            "--zk-tls-key".to_owned(),
            path(key),
        ]
    };

    let with_cert = identity(&key);
    let with_cert = with_cert.each_ref().map(String::as_str);

    // A SASL login over TLS with a client certificate, as a secured deployment has both: the
    // admin secures the chroot, then reads it; without the login, the certificate alone
    // reads nothing.
    let admin = write(d, "admin.sasl", "sasl:admin:admin-sasl-pw\n");
    let mut init = vec!["zk", "init", "--zk", &secure];
    init.extend(with_cert);
    let init = ptl_as(Some(&admin), &init);
    assert_eq!(init.status.code(), Some(0), "{}", stderr(&init));
    let mut args = vec!["status", "--zk", &secure];
    args.extend(with_cert);
    let as_admin = ptl_as(Some(&admin), &args);
    assert_eq!(as_admin.status.code(), Some(0), "{}", stderr(&as_admin));
    let anonymous = status(&secure, &with_cert);
    assert_eq!(anonymous.status.code(), Some(4), "{}", stderr(&anonymous));
    assert!(
        stderr(&anonymous).contains("not authorised"),
        "{}",
        stderr(&anonymous)
    );

    let without = status(&secure, &["--zk-tls-ca", &path(&ca_file)]);
    assert_eq!(without.status.code(), Some(4), "{}", stderr(&without));
    assert!(
        stderr(&without).contains("TLS to ZooKeeper at"),
        "{}",
        stderr(&without)
    );

    // A key that is not the certificate's: a usage error at start.
    let stranger = ca.client("stranger");
    let wrong_key = write(d, "wrong.key", &stranger.key);
    let o = status(
        &secure,
        &identity(&wrong_key).each_ref().map(String::as_str),
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}
