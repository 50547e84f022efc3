//! The signals that stop `ptl`: Ctrl-C (SIGINT) from a terminal, SIGTERM from CI timeouts,
//! `docker stop` and Kubernetes. Both mean the same: stop scheduling, let requests in flight
//! finish, write every result file, exit 130 (docs/cli.md). A second one quits at once.

use crate::exit::Exit;
use ptl_cluster::CancellationToken;
use tokio::signal::unix::{signal, SignalKind};

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    CtrlC,
    Terminate,
}

impl Stop {
    /// The run's stop reason; `interrupted` leads it, which is what makes the exit 130.
    pub fn reason(self) -> &'static str {
        match self {
            Stop::CtrlC => "interrupted (Ctrl-C)",
            Stop::Terminate => "interrupted (SIGTERM)",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Stop::CtrlC => "Ctrl-C",
            Stop::Terminate => "SIGTERM",
        }
    }
}

/// Resolves on the first Ctrl-C or SIGTERM.
pub async fn first() -> Stop {
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => Stop::CtrlC,
                _ = term.recv() => Stop::Terminate,
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            Stop::CtrlC
        }
    }
}

/// From now on, the next Ctrl-C or SIGTERM ends the process at once (130), for when finishing
/// the current work takes longer than the user wants to wait.
pub fn second_quits() {
    tokio::spawn(async {
        first().await;
        std::process::exit(Exit::Interrupted as i32);
    });
}

/// The token a long-running process (`agent`, `coordinator`: `what`) stops by: cancelled on
/// the first signal, after saying what happens next. Call within the runtime.
pub fn shutdown_token(what: &'static str) -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        let stop = first().await;
        eprintln!(
            "{what}: {} received, finishing; press Ctrl-C again to quit at once",
            stop.name()
        );
        cancel.cancel();
        second_quits();
    });
    token
}

/// The message a stopped run prints before it drains.
pub fn announce(stop: Stop, what: &str) {
    eprintln!(
        "\n{} received: {what} (a second Ctrl-C or SIGTERM quits at once)…",
        stop.name()
    );
}
