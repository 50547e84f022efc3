//! `ptl demo-target`: serve the built-in demo target until Ctrl-C.

use crate::exit::Exit;
use crate::flags::DemoTargetArgs;
use crate::output::fail;
use ptl_demo_target::{serve, DemoTargetConfig};

pub fn run(args: &DemoTargetArgs) -> Exit {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                Exit::RunFailed,
                format!("cannot start the async runtime: {e}"),
            )
        }
    };
    runtime.block_on(async {
        let config = DemoTargetConfig {
            port: args.port,
            latency: args.latency,
            error_rate: args.error_rate,
            seed: 0,
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let target = match serve(config, shutdown).await {
            Ok(t) => t,
            Err(e) => return fail(Exit::RunFailed, e),
        };
        // The URL goes to stdout alone so scripts can read it; the rest is for people.
        println!("{}", target.url());
        eprintln!(
            "demo target listening on {} (Ctrl-C stops it)",
            target.url()
        );
        match target.wait().await {
            Ok(()) => Exit::Ok,
            Err(e) => fail(Exit::RunFailed, e),
        }
    })
}
