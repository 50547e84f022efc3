//! `ptl keygen`: an Ed25519 key to sign plans with (`ptl submit --sign-key`); its public half
//! goes in the `--trusted-keys` directory of coordinators and agents.

use crate::exit::Exit;
use crate::flags::KeygenArgs;
use crate::output::{fail, Done};
use ptl_cluster::signing::PlanSigner;

pub fn run(args: &KeygenArgs) -> Done {
    let name = args.name.clone().unwrap_or_else(|| {
        args.out
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "ptl".into())
    });
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(fail(Exit::Usage, "--name: one word, e.g. the team's name"));
    }
    let signer = PlanSigner::generate(&name);
    let public = signer.write(&args.out).map_err(|e| fail(Exit::Usage, e))?;
    eprintln!(
        "key {} ({name}): private {} (keep it secret), public {} (for --trusted-keys)",
        signer.key_id(),
        args.out.display(),
        public.display()
    );
    Ok(())
}
