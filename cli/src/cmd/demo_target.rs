//! `ptl demo-target`: serve the built-in demo target until Ctrl-C.

use crate::exit::Exit;
use crate::flags::DemoTargetArgs;
use crate::output::{fail, Done};
use crate::runtime;
use ptl_demo_target::{serve, DemoTargetConfig};

pub fn run(args: &DemoTargetArgs) -> Done {
    let runtime = runtime::start(&mut tokio::runtime::Builder::new_multi_thread())?;
    runtime.block_on(async {
        let config = DemoTargetConfig {
            port: args.port,
            latency: args.latency,
            error_rate: args.error_rate,
            seed: 0,
            capacity: args.capacity,
        };
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let target = serve(config, shutdown)
            .await
            .map_err(|e| fail(Exit::RunFailed, e))?;
        // The URL goes to stdout alone so scripts can read it; the rest is for people.
        println!("{}", target.url());
        eprintln!(
            "demo target listening on {} (Ctrl-C stops it)",
            target.url()
        );
        target.wait().await.map_err(|e| fail(Exit::RunFailed, e))
    })
}
