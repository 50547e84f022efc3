//! `ptl zk init` (secure a chroot with the fleet's roles) and `ptl zk id` (the identity a login
//! file proves, for the role files). The model is in docs/security.md.

use std::path::Path;

use crate::cluster_setup::{cluster_failure, runtime, zk_config};
use crate::exit::Exit;
use crate::flags::{ZkCommand, ZkCommandArgs, ZkIdArgs, ZkInitArgs};
use crate::output::{fail, Done};
use ptl_cluster::access::{init, AclPolicy, Credentials, Identity};

pub fn run(args: &ZkCommandArgs) -> Done {
    match &args.command {
        ZkCommand::Init(args) => secure(args),
        ZkCommand::Id(args) => identity(args),
    }
}

fn identity(args: &ZkIdArgs) -> Done {
    let credentials = Credentials::read(&args.auth_file).map_err(|e| fail(Exit::Usage, e))?;
    println!("{}", credentials.identity());
    Ok(())
}

fn secure(args: &ZkInitArgs) -> Done {
    let zk = zk_config(&args.zk)?;
    let Some(admin) = zk.credentials.as_ref().map(Credentials::identity) else {
        return Err(fail(
            Exit::Usage,
            "ptl zk init needs --zk-auth-file: that login becomes the chroot's admin",
        ));
    };
    let mut policy = AclPolicy {
        admins: vec![admin.to_string()],
        submitters: role_file(args.submitters.as_deref())?,
        agents: role_file(args.agents.as_deref())?,
        coordinators: role_file(args.coordinators.as_deref())?,
    };
    for extra in role_file(args.admins.as_deref())? {
        if !policy.admins.contains(&extra) {
            policy.admins.push(extra);
        }
    }
    let differences = runtime()?
        .block_on(init::init(&zk, &policy, args.check))
        .map_err(cluster_failure)?;
    for difference in &differences {
        println!("{difference}");
    }
    let roles = format!(
        "{} admin(s), {} submitter(s), {} agent(s), {} coordinator(s)",
        policy.admins.len(),
        policy.submitters.len(),
        policy.agents.len(),
        policy.coordinators.len()
    );
    match (args.check, differences.is_empty()) {
        (true, true) => eprintln!("{}: secured as the role files say ({roles})", zk.chroot),
        (true, false) => {
            eprintln!(
                "{}: {} node(s) differ from the role files",
                zk.chroot,
                differences.len()
            );
            return Err(Exit::ThresholdsFailed);
        }
        (false, _) => eprintln!(
            "{}: secured ({roles}); {} node(s) changed",
            zk.chroot,
            differences.len()
        ),
    }
    Ok(())
}

/// One identity per line (`digest:USER:HASH` or `sasl:USER`); blank lines and `#` comments
/// are skipped. A line that is not an identity is an error, never a role left short.
fn role_file(path: Option<&Path>) -> Result<Vec<String>, Exit> {
    let Some(path) = path else {
        return Ok(Vec::new());
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(Exit::Usage, format!("{}: {e}", path.display())))?;
    let mut ids = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let id: Identity = line.parse().map_err(|e| {
            fail(
                Exit::Usage,
                format!("{}:{}: {e}", path.display(), number + 1),
            )
        })?;
        ids.push(id.to_string());
    }
    Ok(ids)
}
