//! Who may do what in a fleet: the credentials a process logs in to ZooKeeper with
//! ([`credentials`]), the roles and the ACL each kind of znode gets ([`policy`]), and the
//! admin's command that secures a chroot ([`init`], `ptl zk init`). See docs/security.md.

pub mod credentials;
pub mod init;
pub mod policy;

pub use credentials::{Credentials, Identity};
pub use policy::{AclPolicy, Node};
