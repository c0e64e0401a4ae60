//! `[http]`, the one HTTP port (channel callbacks, ops endpoints), and `[api]`, the HTTP API
//! under `/api/v1` served on it.

use serde::Deserialize;

use super::ConfigError;

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Address of the HTTP server (channel callbacks, `/healthz`, `/readyz`, `/metrics`).
    pub listen: String,
    /// Browsers reach this port only through a proxy that terminates TLS (the studio's and
    /// console's cookies are then marked `Secure`). seedgate's port itself speaks plain HTTP:
    /// put it behind TLS whenever it is reached from beyond the machine.
    pub behind_tls_proxy: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            behind_tls_proxy: false,
        }
    }
}

impl HttpConfig {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        super::check_socket_addr("http.listen", &self.listen)
    }
}

/// The HTTP API under `/api/v1` (served on `http.listen`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiConfig {
    pub enabled: bool,
    /// Requests per second each token may make (a token bucket; 0: unlimited).
    pub rate_per_sec: u32,
    /// How many requests a token may make at once above its rate.
    pub burst: u32,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_window_secs: u64,
    /// Webhook calls per job before it goes on the dead-letter list.
    pub webhook_max_attempts: u32,
    /// The first retry's delay; each later one doubles it (capped at an hour).
    pub webhook_backoff_ms: u64,
    /// A webhook call that takes longer fails (and is retried).
    pub webhook_timeout_ms: u64,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            rate_per_sec: 50,
            burst: 100,
            idempotency_window_secs: 24 * 3600,
            webhook_max_attempts: 8,
            webhook_backoff_ms: 1000,
            webhook_timeout_ms: 10_000,
        }
    }
}
