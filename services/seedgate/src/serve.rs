//! The process: checks, starts and runs the services its role names (`seedgate up`: all of
//! them; `seedgate run <service>`: one) on one runtime and one HTTP port, and shuts down in
//! stages on SIGTERM/SIGINT.
//!
//! Shutdown order, all within `shutdown.drain_secs`: `/readyz` turns 503 and the HTTP server
//! stops accepting while the hops in flight are answered (the services still run for them);
//! then the bus consumers finish what they hold; the store writes last, until its queue is
//! quiet, so nothing the others produced is left behind in an in-process bus.

use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::service::{Needs, Stage, Task};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::Service;
use crate::failure::Failure;

/// Which services this process runs.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    All,
    One(Service),
}

impl Role {
    /// Every service, in the order they start.
    const ALL: [Service; 6] = [
        Service::HttpChannels,
        Service::Sessions,
        Service::Flows,
        Service::Smpp,
        Service::Api,
        Service::Store,
    ];

    fn services(self) -> Vec<Box<dyn seedgate_runtime::Service>> {
        let names: &[Service] = match &self {
            Role::All => &Self::ALL,
            Role::One(one) => std::slice::from_ref(one),
        };
        names.iter().map(|s| service(*s)).collect()
    }

    fn name(self) -> &'static str {
        match self {
            Role::All => "up",
            Role::One(s) => s.name(),
        }
    }
}

/// The closed list of services: one arm per service crate.
fn service(s: Service) -> Box<dyn seedgate_runtime::Service> {
    match s {
        Service::HttpChannels => Box::new(seedgate_http_channels::Service),
        Service::Sessions => Box::new(seedgate_sessions::Service),
        Service::Flows => Box::new(seedgate_flows::Service::default()),
        Service::Smpp => Box::new(seedgate_smpp::Service),
        Service::Api => Box::new(seedgate_api::Service),
        Service::Store => Box::new(seedgate_store::Service),
    }
}

/// The tasks of one shutdown stage and the token that stops them.
#[derive(Default)]
struct Tasks {
    stop: CancellationToken,
    set: JoinSet<()>,
}

/// Runs `role` until SIGTERM/SIGINT, then drains.
pub async fn serve(config: seedgate_runtime::config::Config, role: Role) -> Result<(), Failure> {
    seedgate_runtime::telemetry::init(&config.log).map_err(Failure::Config)?;
    let mut services = role.services();
    // Everything that can be refused is checked before a port is bound.
    for s in &mut services {
        s.check(&config)?;
    }
    let none = Needs {
        sessions: false,
        store: false,
    };
    let needs = services.iter().map(|s| s.needs(&config)).fold(none, Needs::and);
    let rt = crate::open::runtime(Arc::new(config))?;

    // Services bind their own ports and say what they serve on the HTTP port; nothing runs yet.
    let (mut work, mut store) = (Tasks::default(), Tasks::default());
    let mut routes = axum::Router::new();
    let mut tasks: Vec<(Stage, &'static str, Task)> = Vec::new();
    for s in services {
        let stage = s.stage();
        let stop = match stage {
            Stage::Work => work.stop.clone(),
            Stage::Store => store.stop.clone(),
        };
        let running = s.start(&rt, stop).await?;
        if let Some(r) = running.routes {
            routes = routes.merge(r);
        }
        tasks.extend(running.tasks.into_iter().map(|(name, task)| (stage, name, task)));
    }

    let config = rt.config.clone();
    let listener = tokio::net::TcpListener::bind(&config.http.listen)
        .await
        .map_err(|e| {
            Failure::Other(format!(
                "cannot listen on {} (`http.listen`): {e}",
                config.http.listen
            ))
        })?;
    let signal = CancellationToken::new();
    seedgate_runtime::shutdown::cancel_on_signal(signal.clone())
        .map_err(|e| Failure::Other(format!("cannot install signal handlers: {e}")))?;
    rt.prepare().await;

    let mut app = seedgate_runtime::ops::router(rt.readiness(needs, signal.clone())).merge(routes);
    if matches!(role, Role::All) {
        app = app.merge(demo_registry());
    }
    let mut helpers = rt.follow(&work.stop);
    for (stage, name, task) in tasks {
        match stage {
            Stage::Work => work.set.spawn(supervise(name, task)),
            Stage::Store => store.set.spawn(supervise(name, task)),
        };
    }

    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(role = role.name(), listen = %addr, bus = ?config.bus.kind, "seedgate started");
    let http = {
        let signal = signal.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { signal.cancelled().await })
                .await
        })
    };

    let drained = seedgate_runtime::shutdown::drain(
        async {
            // A service that ends by itself (its bus consumer failed for good) stops the process.
            tokio::select! {
                () = signal.cancelled() => {}
                Some(_) = work.set.join_next() => { signal.cancel(); }
                Some(_) = store.set.join_next() => { signal.cancel(); }
            }
            let _ = http.await;
            for stage in [&mut work, &mut store] {
                stage.stop.cancel();
                while stage.set.join_next().await.is_some() {}
            }
            while helpers.join_next().await.is_some() {}
        },
        &signal,
        Duration::from_secs(config.shutdown.drain_secs),
    )
    .await;
    if drained {
        tracing::info!(role = role.name(), "drained; exiting");
        Ok(())
    } else {
        tracing::error!(
            role = role.name(),
            "drain deadline passed; exiting with work in flight"
        );
        Err(Failure::Other("drain deadline passed".into()))
    }
}

/// `POST /demo/registry`: stands in for a programme's registry in the embedded demo, as the
/// simulated carrier stands in for a carrier: the registration flow's webhook gets an id back.
fn demo_registry() -> axum::Router {
    axum::Router::new().route(
        "/demo/registry",
        axum::routing::post(|| async {
            let id = format!("REG-{}", &uuid::Uuid::now_v7().simple().to_string()[20..]);
            (
                axum::http::StatusCode::CREATED,
                axum::Json(serde_json::json!({"id": id, "status": "registered"})),
            )
        }),
    )
}

/// Runs one service task, turning its failure into a log line.
async fn supervise(name: &'static str, task: Task) {
    match task.await {
        Ok(()) => tracing::info!(service = name, "service stopped"),
        Err(e) => tracing::error!(service = name, error = %e, "service failed"),
    }
}
