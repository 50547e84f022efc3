//! What the user-facing commands do to the cluster: `ptl submit` stores a plan and creates a
//! run ([`submit`]); `ptl status`, `ptl stop`, `ptl pause` and `ptl resume` read and change it
//! ([`status`]).

pub mod status;
pub mod submit;
