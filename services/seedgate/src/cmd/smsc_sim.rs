//! `seedgate smsc-sim`: runs the SMSC simulator until SIGTERM/SIGINT, then logs its counts.

use std::sync::atomic::{AtomicU64, Ordering};

use seedgate_runtime::config::Config;
use seedgate_smpp::smsc_sim::{SimConfig, SmscSim};
use tokio_util::sync::CancellationToken;

use crate::failure::Failure;

pub async fn run(config: &Config, listen: &str, sim: SimConfig) -> Result<(), Failure> {
    seedgate_runtime::telemetry::init(&config.log).map_err(|e| Failure::Config(e.0))?;
    let addr: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| Failure::Config(format!("invalid --listen `{listen}`: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Other(format!("cannot listen on {listen}: {e}")))?;
    let stop = CancellationToken::new();
    seedgate_runtime::shutdown::cancel_on_signal(stop.clone())
        .map_err(|e| Failure::Other(format!("cannot install signal handlers: {e}")))?;
    let running = SmscSim::start(listener, sim, stop.clone()).map_err(|e| Failure::Other(e.to_string()))?;
    tracing::info!(listen = %running.addr, "SMSC simulator listening");
    stop.cancelled().await;
    let stats = running.stats();
    let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
    tracing::info!(
        binds = n(&stats.binds),
        submits = n(&stats.submits_accepted),
        throttled = n(&stats.submits_throttled),
        receipts = n(&stats.receipts_sent),
        "SMSC simulator stopped"
    );
    Ok(())
}
