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

use seedgate_runtime::config::Config;
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

/// What the process needs to be ready: what any of its services needs.
fn needs(services: &[Box<dyn seedgate_runtime::Service>], config: &Config) -> Needs {
    let none = Needs {
        sessions: false,
        store: false,
    };
    services.iter().map(|s| s.needs(config)).fold(none, Needs::and)
}

/// The tasks of one shutdown stage and the token that stops them.
#[derive(Default)]
struct Tasks {
    stop: CancellationToken,
    set: JoinSet<()>,
}

/// The tasks of the process by the stage they stop in.
#[derive(Default)]
struct Stages {
    work: Tasks,
    store: Tasks,
}

impl Stages {
    fn of(&mut self, stage: Stage) -> &mut Tasks {
        match stage {
            Stage::Work => &mut self.work,
            Stage::Store => &mut self.store,
        }
    }
}

/// A started service's task, not spawned yet.
type Pending = (Stage, &'static str, Task);

/// Starts `services` on `rt`: they bind their own ports and say what they serve on the HTTP
/// port; nothing runs yet.
async fn start(
    services: Vec<Box<dyn seedgate_runtime::Service>>,
    rt: &seedgate_runtime::Runtime,
    stages: &mut Stages,
) -> Result<(axum::Router, Vec<Pending>), Failure> {
    let mut routes = axum::Router::new();
    let mut tasks = Vec::new();
    for s in services {
        let stage = s.stage();
        let running = s.start(rt, stages.of(stage).stop.clone()).await?;
        if let Some(r) = running.routes {
            routes = routes.merge(r);
        }
        tasks.extend(running.tasks.into_iter().map(|(name, task)| (stage, name, task)));
    }
    Ok((routes, tasks))
}

/// Runs `role` until SIGTERM/SIGINT, then drains.
pub async fn serve(config: Config, role: Role) -> Result<(), Failure> {
    seedgate_runtime::telemetry::init(&config.log).map_err(|e| Failure::Config(e.0))?;
    let mut services = role.services();
    // Everything that can be refused is checked before a port is bound.
    for s in &mut services {
        s.check(&config)?;
    }
    let needs = needs(&services, &config);
    // A SQLite store is not replaced under a running process (`seedgate restore`).
    let _held = seedgate_store::backup::hold(&config.store).map_err(|e| match e {
        seedgate_store::backup::BackupError::Refused(m) => Failure::Config(m),
        seedgate_store::backup::BackupError::Failed(m) => Failure::Other(m),
    })?;
    let rt = crate::open::runtime(Arc::new(config))?;
    let mut stages = Stages::default();
    let (routes, tasks) = start(services, &rt, &mut stages).await?;

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
    {
        let (signal, draining) = (signal.clone(), rt.draining.clone());
        tokio::spawn(async move {
            signal.cancelled().await;
            draining.cancel();
        });
    }

    let mut app = seedgate_runtime::ops::router(rt.readiness(needs, signal.clone())).merge(routes);
    if matches!(role, Role::All) {
        app = app.merge(demo_registry());
    }
    let mut helpers = rt.follow(&stages.work.stop);
    for (stage, name, task) in tasks {
        stages.of(stage).set.spawn(supervise(name, task));
    }

    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(role = role.name(), listen = %addr, bus = ?config.bus.kind, "seedgate started");
    let http = {
        let signal = signal.clone();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .with_graceful_shutdown(async move { signal.cancelled().await })
            .await
        })
    };

    let drained = seedgate_runtime::shutdown::drain(
        async {
            // A service that ends by itself (its bus consumer failed for good) stops the process.
            tokio::select! {
                () = signal.cancelled() => {}
                Some(_) = stages.work.set.join_next() => { signal.cancel(); }
                Some(_) = stages.store.set.join_next() => { signal.cancel(); }
            }
            let _ = http.await;
            for stage in [&mut stages.work, &mut stages.store] {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn needs_of(role: Role, config: &Config) -> (bool, bool) {
        let n = needs(&role.services(), config);
        (n.sessions, n.store)
    }

    #[test]
    fn a_role_is_ready_when_what_its_services_need_is() {
        let mut config = Config::default();
        assert_eq!(needs_of(Role::All, &config), (true, true));
        // The store service keeps no session state; the others report channel status there.
        assert_eq!(needs_of(Role::One(Service::Store), &config), (false, true));
        assert_eq!(needs_of(Role::One(Service::Sessions), &config), (true, false));
        assert_eq!(needs_of(Role::One(Service::Api), &config), (true, true));
        config.api.enabled = false;
        assert_eq!(needs_of(Role::One(Service::Api), &config), (true, false));
        assert_eq!(needs_of(Role::All, &config), (true, true));
    }

    #[test]
    fn up_runs_every_service_once_and_the_store_drains_last() {
        let services = Role::All.services();
        let names: Vec<_> = services.iter().map(|s| s.name()).collect();
        assert_eq!(
            names,
            ["http-channels", "sessions", "flows", "smpp", "api", "store"]
        );
        for s in &services {
            let want = if s.name() == "store" {
                Stage::Store
            } else {
                Stage::Work
            };
            assert_eq!(s.stage(), want, "{}", s.name());
        }
        for one in Role::ALL {
            let names: Vec<_> = Role::One(one).services().iter().map(|s| s.name()).collect();
            assert_eq!(names, [one.name()]);
        }
    }
}
