//! `rebound demo upstream [--port N] [--receiver-port M]`: serves the
//! simulated upstream on its own (no faults scripted: every route answers
//! its default), so the config `rebound demo` wrote stays runnable with
//! `run` and `health` (it has no schedule, so `serve` runs nothing); with
//! `--receiver-port`, also the alert webhook receiver that config posts
//! to, printing each message it gets.
//! Runs until Ctrl-C or SIGTERM.

use crate::Failure;
use clap::Args;
use rebound_upstream_sim::{UpstreamSim, WebhookReceiver};
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct UpstreamArgs {
    /// Loopback port to serve on (0: any free port). The demo's config
    /// names the port it was written with; its header comment says which.
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Also receive the alert webhooks the demo config's
    /// `[alerts.sinks.demo_receiver]` posts, on this port, and print them.
    #[arg(long)]
    pub receiver_port: Option<u16>,
}

pub async fn upstream(args: UpstreamArgs) -> Result<ExitCode, Failure> {
    let sim = UpstreamSim::start_on(args.port).await.map_err(|error| {
        cannot_bind(
            format!(
                "cannot serve the simulated upstream on 127.0.0.1:{}",
                args.port
            ),
            "--port",
            error,
        )
    })?;
    let receiver = match args.receiver_port {
        Some(port) => Some(WebhookReceiver::start_on(port).await.map_err(|error| {
            cannot_bind(
                format!("cannot receive webhooks on 127.0.0.1:{port}"),
                "--receiver-port",
                error,
            )
        })?),
        None => None,
    };
    // The address goes to stdout: a script can read which port it got.
    println!("Simulated upstream at {} (Ctrl-C to stop)", sim.base_url());
    if let Some(receiver) = &receiver {
        println!("Alert webhook receiver at {}", receiver.base_url());
    }
    let mut seen = 0;
    loop {
        let more = async {
            match &receiver {
                Some(receiver) => receiver.wait_for_more(seen).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = shutdown_signal() => break,
            () = more => {
                if let Some(receiver) = &receiver {
                    let received = receiver.received();
                    for message in &received[seen..] {
                        println!("webhook {}: {}", message.path, super::alert_text(&message.body));
                    }
                    seen = received.len();
                }
            }
        }
    }
    sim.shutdown().await;
    if let Some(receiver) = receiver {
        receiver.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Why a port could not be bound. "Address already in use" alone left a
/// newcomer guessing; the usual holder is the `rebound demo upstream`
/// started earlier in another terminal, still running.
fn cannot_bind(what: String, flag: &str, error: std::io::Error) -> anyhow::Error {
    if error.kind() == std::io::ErrorKind::AddrInUse {
        anyhow::anyhow!(
            "{what}: {error}; another process holds that port, perhaps an earlier `rebound demo upstream` still running: stop it, or pick another {flag} (a demo config expects the port its first lines name)"
        )
    } else {
        anyhow::Error::new(error).context(what)
    }
}

/// The first SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
