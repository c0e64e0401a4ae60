//! Logs and metrics: `tracing` JSON lines on stdout, MSISDNs masked, a Prometheus recorder.
//!
//! Metric names follow `seedgate_<area>_<name>_<unit>[_total]`; labels are bounded (channel,
//! flow, outcome, reason), never an MSISDN or message text.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

use crate::config::LogConfig;

static UNMASK: AtomicBool = AtomicBool::new(false);
static PROMETHEUS: OnceLock<PrometheusHandle> = OnceLock::new();

/// Why logging could not be set up: a `log.level` that does not parse, or a subscriber
/// installed already.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InitError(pub String);

/// Installs the JSON log subscriber and the Prometheus recorder. Call once, from `main`.
pub fn init(log: &LogConfig) -> Result<(), InitError> {
    UNMASK.store(log.unmask_msisdn, Ordering::Relaxed);
    // lapin warns about every promise left behind when a consumer closes its channel;
    // its errors still show. An explicit `lapin=…` directive wins.
    let directive = if log.level.contains("lapin") {
        log.level.clone()
    } else {
        format!("{},lapin=error", log.level)
    };
    let filter = EnvFilter::try_new(&directive)
        .map_err(|e| InitError(format!("invalid config at `log.level`: {e}")))?;
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(std::io::stdout)
        .try_init()
        .map_err(|e| InitError(format!("cannot install the log subscriber: {e}")))?;
    install_metrics();
    Ok(())
}

/// Installs the global Prometheus recorder (idempotent) and returns its handle.
pub fn install_metrics() -> &'static PrometheusHandle {
    PROMETHEUS.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0])
            .unwrap_or_else(|_| PrometheusBuilder::new());
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        // Another recorder may already be installed (tests); ours then only renders empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Renders the Prometheus exposition text.
pub fn render_metrics() -> String {
    install_metrics().render()
}

/// Displays an MSISDN with its middle digits hidden: `+27820000001` → `+278******01`.
///
/// Use it for every address that reaches a log line: `msisdn = %Masked(&msg.from)`.
#[derive(Debug, Clone, Copy)]
pub struct Masked<'a>(pub &'a str);

impl fmt::Display for Masked<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if UNMASK.load(Ordering::Relaxed) {
            return f.write_str(self.0);
        }
        f.write_str(&mask(self.0))
    }
}

/// The masked form of an address: keeps at most 5 leading and 2 trailing characters, and hides
/// at least half of it.
pub fn mask(addr: &str) -> String {
    let chars: Vec<char> = addr.chars().collect();
    let n = chars.len();
    if n <= 4 {
        return "*".repeat(n);
    }
    let hidden = n.div_ceil(2).max(n.saturating_sub(7));
    let head = ((n - hidden) * 5 / 7).min(5);
    let tail = n - hidden - head;
    let mut out = String::with_capacity(n);
    out.extend(&chars[..head]);
    out.extend(std::iter::repeat_n('*', hidden));
    out.extend(&chars[n - tail..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_hide_the_subscriber_part() {
        assert_eq!(mask("+27820000001"), "+278******01");
        assert_eq!(mask("0820000001"), "082*****01");
        assert_eq!(mask("1234"), "****");
        assert_eq!(mask(""), "");
    }

    #[test]
    fn masks_never_show_more_than_half() {
        for n in 5..30 {
            let addr: String = "9".repeat(n);
            let m = mask(&addr);
            assert_eq!(m.chars().count(), n);
            let shown = m.chars().filter(|c| *c != '*').count();
            assert!(shown * 2 <= n, "{n}: {m}");
            assert!(shown <= 7, "{n}: {m}");
        }
    }
}
