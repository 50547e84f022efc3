//! A real Apache ZooKeeper for tests: one server or a 3-node ensemble from Debian's `zookeeper`
//! package, on free loopback ports in a temporary directory, killed (whole process group) on drop.
//!
//! Tests never mock ZooKeeper and never pass silently without it: when the package is missing
//! this panics with the command that installs it.

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Where Debian's `zookeeper` package puts the launcher.
pub const ZK_SERVER_SCRIPT: &str = "/usr/share/zookeeper/bin/zkServer.sh";

/// The class path Debian's zkEnv.sh sets.
const DEBIAN_CLASSPATH: &str = "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar";

/// How long a server (or an ensemble's quorum) gets to answer before the harness gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Attempts with fresh ports: another test may grab a port between our probe and ZooKeeper's bind.
const START_ATTEMPTS: u32 = 3;

/// Short ticks keep session timeouts (2..20 ticks) small enough for failover tests.
const TICK_MS: u32 = 500;

/// One running ZooKeeper server or ensemble. Dropping it kills every server.
pub struct ZkServer {
    nodes: Vec<ZkNode>,
    dir: TempDir,
}

/// What a server does beyond the default's plain client port and digest logins.
#[derive(Debug, Clone, Default)]
pub struct ZkOptions {
    /// SASL DIGEST-MD5 logins (user, password) the server's JAAS file accepts.
    pub sasl_users: Vec<(String, String)>,
    /// A TLS client port (`secureClientPort`) beside the plain one.
    pub tls: Option<ZkTlsOptions>,
}

/// The secure client port's certificates, as PEM.
#[derive(Debug, Clone)]
pub struct ZkTlsOptions {
    /// The server's certificate followed by its private key (PKCS#8).
    pub key_store_pem: String,
    /// The CA(s) whose client certificates the server accepts.
    pub trust_store_pem: String,
    /// `ssl.clientAuth=need`: a client without a certificate of the trust store is refused.
    pub require_client_cert: bool,
}

struct ZkNode {
    client_port: u16,
    /// The TLS client port, when the server has one.
    secure_port: Option<u16>,
    child: Option<Child>,
    log: PathBuf,
    /// Its config and folder, to start it again after a kill.
    cfg: PathBuf,
    dir: PathBuf,
}

impl ZkServer {
    /// A single standalone server.
    pub fn start() -> ZkServer {
        Self::start_nodes(1, &ZkOptions::default())
    }

    /// A single standalone server with SASL logins and/or a TLS client port.
    pub fn start_with(options: &ZkOptions) -> ZkServer {
        Self::start_nodes(1, options)
    }

    /// A 3-node ensemble; returns once every node serves requests (a quorum formed).
    pub fn start_ensemble() -> ZkServer {
        Self::start_nodes(3, &ZkOptions::default())
    }

    fn start_nodes(count: usize, options: &ZkOptions) -> ZkServer {
        ensure_installed();
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::try_start(count, options) {
                Ok(server) => return server,
                Err(error) => last_error = error,
            }
        }
        panic!("ZooKeeper did not start after {START_ATTEMPTS} attempts: {last_error}");
    }

    fn try_start(count: usize, options: &ZkOptions) -> Result<ZkServer, String> {
        let dir = tempfile::Builder::new()
            .prefix("ptl-zk-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        // Hold every probe listener until all ports are chosen so they are distinct.
        let per_node = if options.tls.is_some() { 4 } else { 3 };
        let listeners: Vec<TcpListener> = (0..count * per_node)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("probe a free port: {e}"))?;
        let ports: Vec<u16> = listeners
            .iter()
            .map(|l| l.local_addr().map(|a| a.port()))
            .collect::<Result<_, _>>()
            .map_err(|e| format!("probe a free port: {e}"))?;
        drop(listeners);

        let mut server = ZkServer {
            nodes: Vec::with_capacity(count),
            dir,
        };
        for id in 1..=count {
            let client_port = ports[(id - 1) * per_node];
            let secure_port = options.tls.as_ref().map(|_| ports[(id - 1) * per_node + 3]);
            let node_dir = server.dir.path().join(format!("node{id}"));
            let data_dir = node_dir.join("data");
            fs::create_dir_all(&data_dir).map_err(|e| format!("create {data_dir:?}: {e}"))?;
            let mut cfg = format!(
                "tickTime={TICK_MS}\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={client_port}\n\
                 clientPortAddress=127.0.0.1\nadmin.enableServer=false\n\
                 4lw.commands.whitelist=ruok,srvr,mntr\nmaxClientCnxns=0\n",
                data_dir.display()
            );
            if count > 1 {
                fs::write(data_dir.join("myid"), format!("{id}\n"))
                    .map_err(|e| format!("write myid: {e}"))?;
                for peer in 1..=count {
                    let quorum_port = ports[(peer - 1) * per_node + 1];
                    let election_port = ports[(peer - 1) * per_node + 2];
                    cfg.push_str(&format!(
                        "server.{peer}=127.0.0.1:{quorum_port}:{election_port}\n"
                    ));
                }
            }
            let mut jvm_flags = String::new();
            secure_options(options, secure_port, &node_dir, &mut cfg, &mut jvm_flags)?;
            let cfg_path = node_dir.join("zoo.cfg");
            fs::write(&cfg_path, cfg).map_err(|e| format!("write zoo.cfg: {e}"))?;
            fs::write(node_dir.join("jvm.flags"), &jvm_flags)
                .map_err(|e| format!("write jvm.flags: {e}"))?;
            let log = node_dir.join("server.log");
            let child = spawn_server(&cfg_path, &node_dir, &log)?;
            server.nodes.push(ZkNode {
                client_port,
                secure_port,
                child: Some(child),
                log,
                cfg: cfg_path,
                dir: node_dir,
            });
        }
        server.wait_ready(count > 1)?;
        Ok(server)
    }

    /// `127.0.0.1:p1,127.0.0.1:p2,…`, the form `--zk` takes.
    pub fn connect_string(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.client_port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// `127.0.0.1:p1,…` of the TLS client ports (servers started with [`ZkOptions::tls`]).
    pub fn secure_connect_string(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.secure_port.expect("a TLS client port")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Client ports of the nodes, in server-id order.
    pub fn client_ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.client_port).collect()
    }

    /// Kills one node (index into [`Self::client_ports`]), e.g. to test an ensemble losing a member.
    pub fn kill_node(&mut self, index: usize) {
        if let Some(node) = self.nodes.get_mut(index) {
            node.kill();
        }
    }

    /// Starts a killed node again with its own config and data (it rejoins the ensemble);
    /// returns at once, without waiting for it to serve.
    pub fn restart_node(&mut self, index: usize) {
        let node = &mut self.nodes[index];
        node.kill();
        // Its log goes on in a file of its own, so the first run's stays readable.
        let log = node.dir.join("server-restarted.log");
        let child = spawn_server(&node.cfg, &node.dir, &log).expect("ZooKeeper restarts");
        node.child = Some(child);
        node.log = log;
    }

    /// Whether a node has a role in a quorum (leader or follower): it takes sessions.
    pub fn node_serves(&self, index: usize) -> bool {
        self.nodes
            .get(index)
            .is_some_and(|n| node_ready(n.client_port, true))
    }

    /// Whether a node answers `ruok` with `imok`.
    pub fn node_answers(&self, index: usize) -> bool {
        self.nodes
            .get(index)
            .is_some_and(|n| four_letter(n.client_port, "ruok").as_deref() == Some("imok"))
    }

    fn wait_ready(&mut self, quorum: bool) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            let mut all_ready = true;
            for node in &mut self.nodes {
                if let Some(child) = node.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        node.child = None;
                        return Err(format!(
                            "server on port {} exited with {status}; its log:\n{}",
                            node.client_port,
                            tail(&node.log)
                        ));
                    }
                }
                if !node_ready(node.client_port, quorum) {
                    all_ready = false;
                }
            }
            if all_ready {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let logs: Vec<String> = self.nodes.iter().map(|n| tail(&n.log)).collect();
                return Err(format!(
                    "not ready within {READY_TIMEOUT:?} (ports {:?}); logs:\n{}",
                    self.client_ports(),
                    logs.join("\n---\n")
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for ZkServer {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
    }
}

impl ZkNode {
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // The launcher script `exec`s java in its own process group: kill the group so no
            // JVM outlives the test.
            if let Ok(pid) = i32::try_from(child.id()) {
                // SAFETY: kill(2) with a negative pid signals that process group; no memory is shared.
                unsafe {
                    libc::kill(-pid, libc::SIGKILL);
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn ensure_installed() {
    if !Path::new(ZK_SERVER_SCRIPT).exists() {
        panic!(
            "ZooKeeper not installed ({ZK_SERVER_SCRIPT} is missing): apt-get install -y zookeeper; \
             scripts/test installs it"
        );
    }
}

fn spawn_server(cfg: &Path, dir: &Path, log: &Path) -> Result<Child, String> {
    let out = fs::File::create(log).map_err(|e| format!("create {log:?}: {e}"))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("clone log handle: {e}"))?;
    Command::new(ZK_SERVER_SCRIPT)
        .arg("start-foreground")
        .arg(cfg)
        .current_dir(dir)
        .env("ZOO_LOG_DIR", dir)
        .env("JMXDISABLE", "true")
        // Debian's zkEnv.sh pins the log dir; a later -D wins. A small heap: tests run several.
        // `jvm.flags` holds what the node's options add (a JAAS file).
        .env(
            "SERVER_JVMFLAGS",
            format!(
                "-Xmx192m -XX:+UseSerialGC -Dzookeeper.log.dir={} {}",
                dir.display(),
                fs::read_to_string(dir.join("jvm.flags")).unwrap_or_default()
            ),
        )
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| format!("spawn {ZK_SERVER_SCRIPT}: {e}"))
}

/// Adds what `options` asks for to a node's zoo.cfg and JVM flags, writing the files it needs
/// (JAAS file, PEM stores) into the node's folder.
fn secure_options(
    options: &ZkOptions,
    secure_port: Option<u16>,
    node_dir: &Path,
    cfg: &mut String,
    jvm_flags: &mut String,
) -> Result<(), String> {
    let write = |name: &str, text: &str| {
        let path = node_dir.join(name);
        fs::write(&path, text).map_err(|e| format!("write {path:?}: {e}"))?;
        Ok::<_, String>(path)
    };
    if !options.sasl_users.is_empty() {
        let users: String = options
            .sasl_users
            .iter()
            .map(|(user, password)| format!("\n    user_{user}=\"{password}\""))
            .collect();
        let jaas = write(
            "jaas.conf",
            &format!(
                "Server {{\n    org.apache.zookeeper.server.auth.DigestLoginModule required{users};\n}};\n"
            ),
        )?;
        cfg.push_str(
            "authProvider.1=org.apache.zookeeper.server.auth.SASLAuthenticationProvider\n",
        );
        jvm_flags.push_str(&format!(
            " -Djava.security.auth.login.config={}",
            jaas.display()
        ));
    }
    if let (Some(tls), Some(port)) = (&options.tls, secure_port) {
        let key_store = write("keystore.pem", &tls.key_store_pem)?;
        let trust_store = write("truststore.pem", &tls.trust_store_pem)?;
        let client_auth = if tls.require_client_cert {
            "need"
        } else {
            "none"
        };
        // The Netty connection factory needs netty-codec, which Debian's zookeeper.jar does not
        // list in its manifest's Class-Path; zkEnv.sh overwrites CLASSPATH, but java takes the
        // last `-cp`, and SERVER_JVMFLAGS comes after the script's.
        jvm_flags.push_str(&format!(
            " -cp {DEBIAN_CLASSPATH}:/usr/share/java/netty-codec.jar"
        ));
        cfg.push_str(&format!(
            "secureClientPort={port}\nsecureClientPortAddress=127.0.0.1\n\
             serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory\n\
             ssl.keyStore.location={}\nssl.keyStore.type=PEM\n\
             ssl.trustStore.location={}\nssl.trustStore.type=PEM\n\
             ssl.clientAuth={client_auth}\n",
            key_store.display(),
            trust_store.display()
        ));
    }
    Ok(())
}

fn node_ready(port: u16, quorum: bool) -> bool {
    if four_letter(port, "ruok").as_deref() != Some("imok") {
        return false;
    }
    // `ruok` only says the process runs; a server takes sessions once it has a role.
    four_letter(port, "srvr").is_some_and(|s| {
        if quorum {
            s.contains("Mode: leader") || s.contains("Mode: follower")
        } else {
            s.contains("Mode: standalone")
        }
    })
}

/// Sends a four-letter-word command and returns the reply, or `None` when nothing answers.
fn four_letter(port: u16, command: &str) -> Option<String> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    stream.write_all(command.as_bytes()).ok()?;
    let mut reply = String::new();
    stream.read_to_string(&mut reply).ok()?;
    Some(reply)
}

fn tail(log: &Path) -> String {
    let text = fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}
