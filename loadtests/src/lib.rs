//! What the load generators share: the loopback-only guard, latency percentiles, opening
//! a store for the store benchmarks, and the acknowledgement ledger the fault suite keeps.

use std::time::Duration;

#[cfg(feature = "io")]
pub mod faults;
#[cfg(feature = "io")]
pub mod ledger;

/// Whether `target` (`http://host:port/…` or `host:port`) is on this machine.
pub fn is_loopback(target: &str) -> bool {
    let rest = target
        .trim_start_matches("http://")
        .trim_start_matches("https://");
    let host = if rest.starts_with("[::1]") {
        "[::1]"
    } else {
        rest.split([':', '/']).next().unwrap_or_default()
    };
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

/// Exits with status 2 unless `target` is a loopback address.
pub fn require_loopback(tool: &str, target: &str) {
    if !is_loopback(target) {
        eprintln!("{tool}: refusing a non-loopback target {target}");
        std::process::exit(2);
    }
}

/// The `p` quantile (0.0–1.0) of `sorted` latencies, in milliseconds; 0 when empty.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let i = ((last as f64) * p.clamp(0.0, 1.0)).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// The store at `url` (`sqlite://…` or `postgres://…`, in `schema`), reachable and migrated,
/// sealed with the key in `key_file` if one is given; exits with status 2 (saying why, as
/// `tool`) if it cannot be opened.
#[cfg(feature = "io")]
pub async fn open_store(
    tool: &str,
    url: &str,
    schema: Option<String>,
    key_file: Option<std::path::PathBuf>,
) -> std::sync::Arc<dyn seedgate_runtime::store::Store> {
    use seedgate_runtime::config::{StoreConfig, StoreKind};
    let cfg = StoreConfig {
        kind: if url.starts_with("postgres") {
            StoreKind::Postgres
        } else {
            StoreKind::Sqlite
        },
        url: url.to_string(),
        schema,
        encryption_key_file: key_file,
        ..Default::default()
    };
    let opened = match seedgate_store::open(&cfg) {
        Ok(s) => s.check().await.map(|()| s),
        Err(e) => Err(e),
    };
    opened.unwrap_or_else(|e| {
        eprintln!("{tool}: {e}");
        std::process::exit(2);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_pass() {
        for ok in [
            "http://127.0.0.1:8080",
            "127.0.0.1:2776",
            "localhost:1",
            "http://[::1]:8080/x",
        ] {
            assert!(is_loopback(ok), "{ok}");
        }
        for bad in ["http://10.0.0.1:8080", "smsc.example.org:2775", "http://[::2]:80"] {
            assert!(!is_loopback(bad), "{bad}");
        }
    }

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let l: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile_ms(&l, 0.5), 51.0);
        assert_eq!(percentile_ms(&l, 1.0), 100.0);
        assert_eq!(percentile_ms(&[], 0.5), 0.0);
    }
}
