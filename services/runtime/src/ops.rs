//! The operations endpoints every process serves: `/healthz`, `/readyz`, `/metrics`.
//!
//! `/healthz` answers 200 while the process runs. `/readyz` answers 200 only when every
//! dependency check passes (bus, session store, store) and the process is not draining;
//! otherwise 503 with a JSON body naming each failing check.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

type CheckFn = Arc<dyn Fn() -> BoxFuture<'static, Result<(), NotReady>> + Send + Sync>;

/// Why a readiness check failed, as `/readyz` shows it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(pub String);

/// Named readiness checks, run concurrently on every `/readyz` request.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(&'static str, CheckFn)>,
    draining: Option<CancellationToken>,
    /// The channels whose health `/metrics` reports (this process's connectors).
    monitor: Option<Arc<crate::monitor::Monitor>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<_> = self.checks.iter().map(|(n, _)| *n).collect();
        f.debug_struct("Readiness").field("checks", &names).finish()
    }
}

impl Readiness {
    /// `/metrics` reports the health of `monitor`'s channels ([`crate::monitor::Monitor::prometheus`]).
    #[must_use]
    pub fn monitor(mut self, monitor: Arc<crate::monitor::Monitor>) -> Self {
        self.monitor = Some(monitor);
        self
    }

    /// Adds the bus's readiness check.
    pub fn bus(self, bus: Arc<dyn crate::bus::Bus>) -> Self {
        self.with("bus", move || {
            let b = bus.clone();
            Box::pin(async move { b.check().await.map_err(|e| NotReady(e.to_string())) })
        })
    }

    /// Adds the session store's readiness check.
    pub fn session_store(self, sessions: Arc<dyn crate::session_store::SessionStore>) -> Self {
        self.with("session_store", move || {
            let s = sessions.clone();
            Box::pin(async move { s.check().await.map_err(|e| NotReady(e.to_string())) })
        })
    }

    /// Adds the store's readiness check (reachable and migrated).
    pub fn store(self, store: Arc<dyn crate::store::Store>) -> Self {
        self.with("store", move || {
            let s = store.clone();
            Box::pin(async move { s.check().await.map_err(|e| NotReady(e.to_string())) })
        })
    }

    pub fn with(
        mut self,
        name: &'static str,
        check: impl Fn() -> BoxFuture<'static, Result<(), NotReady>> + Send + Sync + 'static,
    ) -> Self {
        self.checks.push((name, Arc::new(check)));
        self
    }

    /// Not ready once `token` is cancelled (the process is draining).
    pub fn draining_on(mut self, token: CancellationToken) -> Self {
        self.draining = Some(token);
        self
    }

    async fn run(&self) -> (bool, serde_json::Map<String, serde_json::Value>) {
        let results = futures::future::join_all(self.checks.iter().map(|(name, check)| async move {
            let outcome = match tokio::time::timeout(Duration::from_secs(2), check()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(e.0),
                Err(_) => Err("check timed out after 2 s".to_string()),
            };
            (*name, outcome)
        }))
        .await;
        let mut ready = true;
        let mut body = serde_json::Map::new();
        if self
            .draining
            .as_ref()
            .is_some_and(CancellationToken::is_cancelled)
        {
            ready = false;
            body.insert("process".into(), "draining".into());
        }
        for (name, outcome) in results {
            let value = match outcome {
                Ok(()) => "ok".to_string(),
                Err(e) => {
                    ready = false;
                    e
                }
            };
            body.insert(name.into(), value.into());
        }
        (ready, body)
    }
}

/// The ops router; merge it into the process's HTTP app.
pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(readiness)
}

async fn metrics(State(readiness): State<Readiness>) -> String {
    let mut text = crate::telemetry::render_metrics();
    if let Some(m) = &readiness.monitor {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&m.prometheus());
    }
    text
}

async fn readyz(State(readiness): State<Readiness>) -> impl IntoResponse {
    let (ready, checks) = readiness.run().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({"ready": ready, "checks": checks})),
    )
}
