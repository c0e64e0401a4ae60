//! Wiring: builds the backends named in config, runs the chosen services and their HTTP
//! server, and shuts down in stages on SIGTERM/SIGINT.
//!
//! Shutdown order, all within `shutdown.drain_secs`: `/readyz` turns 503 and the HTTP server
//! stops accepting while the hops in flight are answered (the services still run for them);
//! then the bus consumers finish what they hold; the store writes last, until its queue is
//! quiet, so nothing the others produced is left behind in an in-process bus.

use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::rabbitmq::RabbitBus;
use seedgate_runtime::bus::Bus;
use seedgate_runtime::config::{BusKind, Config, SessionStoreKind};
use seedgate_runtime::ops::Readiness;
use seedgate_runtime::session_store::memory::MemorySessionStore;
use seedgate_runtime::session_store::redis::RedisSessionStore;
use seedgate_runtime::session_store::SessionStore;
use seedgate_runtime::store::Store;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::cli::Service;

/// Why the process stops with an error.
#[derive(Debug)]
pub enum Failure {
    /// Bad configuration or flow files: exit 64.
    Config(String),
    Other(String),
}

/// How often a process reads the channels made through the API (its own API changes are
/// seen at once).
const CHANNELS_EVERY: Duration = Duration::from_secs(2);

/// Which services this process runs.
#[derive(Debug, Clone, Copy)]
pub enum Role {
    All,
    One(Service),
}

impl Role {
    fn runs(self, s: Service) -> bool {
        match self {
            Role::All => true,
            Role::One(one) => one == s,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Role::All => "up",
            Role::One(s) => s.name(),
        }
    }
}

fn bus(config: &Config) -> Arc<dyn Bus> {
    match config.bus.kind {
        BusKind::InProcess => Arc::new(MemoryBus::new()),
        BusKind::Rabbitmq => Arc::new(RabbitBus::new(config.bus.clone())),
    }
}

fn session_store(config: &Config) -> Result<Arc<dyn SessionStore>, Failure> {
    Ok(match config.session_store.kind {
        SessionStoreKind::InProcess => Arc::new(MemorySessionStore::new()),
        SessionStoreKind::Redis => Arc::new(
            RedisSessionStore::new(&config.session_store)
                .map_err(|e| Failure::Config(format!("invalid config at `session_store.url`: {e}")))?,
        ),
    })
}

fn store(config: &Config) -> Result<Arc<dyn Store>, Failure> {
    let key = seedgate_store::encryption_key(&config.store)
        .map_err(|e| Failure::Config(format!("invalid config at `store.encryption_key_file`: {e}")))?;
    seedgate_store::open_with(&config.store, key)
        .map_err(|e| Failure::Config(format!("invalid config at `store.url`: {e}")))
}

/// Loads the flows and checks every channel's flow exists. With the default folder missing,
/// the built-in demo flow is used (so `seedgate up` works from any folder).
fn flows(config: &Config) -> Result<seedgate_flows::Flows, Failure> {
    let dir = &config.flows.dir;
    let limits = crate::flow_cmd::limits(config);
    let flows = if dir.exists() {
        crate::flow_cmd::load_path(dir, &limits)
    } else if dir == std::path::Path::new("flows") {
        tracing::info!("no ./flows folder; using the built-in demo and registration flows");
        seedgate_flows::builtin()
    } else {
        return Err(Failure::Config(format!(
            "invalid config at `flows.dir`: {} does not exist",
            dir.display()
        )));
    }
    .map_err(|e| Failure::Config(format!("bad flow file: {e}")))?;
    for (name, ch) in &config.channels {
        if let Some(flow) = ch.flow.as_deref().filter(|f| flows.get(f).is_none()) {
            return Err(Failure::Config(format!(
                "invalid config at `channels.{name}.flow`: no flow named `{flow}` in {}",
                dir.display()
            )));
        }
    }
    // Channels can be made through the API later: a set on a channel not configured yet
    // keeps its messages queued until the channel exists.
    for (name, set) in flows.message_sets() {
        if !config.channels.contains_key(&set.channel) {
            tracing::warn!(set = name, channel = %set.channel, "a message set sends on a channel the config does not have; its messages wait in the outbox until the channel exists");
        }
    }
    if !config.channels.contains_key(&config.flows.sms_channel) {
        tracing::warn!(channel = %config.flows.sms_channel, "`flows.sms_channel` is not configured: send_sms actions without a channel will not be delivered");
    }
    Ok(flows)
}

/// Runs `role` until SIGTERM/SIGINT, then drains.
pub async fn serve(config: Config, role: Role) -> Result<(), Failure> {
    seedgate_runtime::telemetry::init(&config.log).map_err(Failure::Config)?;
    let config = Arc::new(config);
    // Everything that can be refused is checked before a port is bound.
    let flows = if role.runs(Service::Flows) {
        Some(flows(&config)?)
    } else {
        None
    };
    let api_on = role.runs(Service::Api) && config.api.enabled;
    // Every role keeps session state or channel status there (the API reads the status).
    let bus = bus(&config);
    let sessions = session_store(&config)?;
    // Every process reads the channels made through the API from the store; only the store
    // and API services need it to be ready.
    let store = store(&config)?;
    let needs_store = role.runs(Service::Store) || api_on;
    let registry = seedgate_runtime::channels::Registry::new(&config);
    let monitor = seedgate_runtime::monitor::Monitor::new();

    for (name, ch) in &config.channels {
        if let Some(p) = ch.smpp.as_ref().and_then(|e| e.ussd_profile.as_deref()) {
            if seedgate_smpp::ussd::profile(p).is_none() {
                return Err(Failure::Config(format!(
                    "invalid config at `channels.{name}.smpp.ussd_profile`: unknown profile `{p}` (use tata, 6d or mica)"
                )));
            }
        }
    }
    let smpp_server = if role.runs(Service::Smpp) && config.smpp_server.enabled {
        let server =
            seedgate_smpp::server::Server::with_monitor(config.clone(), bus.clone(), monitor.clone())
                .map_err(|e| Failure::Config(format!("invalid config at `smpp_server.accounts`: {e}")))?;
        let listener = seedgate_smpp::server::bind(&config).await.map_err(|e| {
            Failure::Other(format!(
                "cannot listen on {} (`smpp_server.listen`): {e}",
                config.smpp_server.listen
            ))
        })?;
        let tls = seedgate_smpp::server::bind_tls(&config)
            .await
            .map_err(|e| Failure::Config(format!("invalid config at `smpp_server.tls`: {e}")))?;
        Some((server, listener, tls))
    } else {
        None
    };

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

    // Channels made through the API, if the store answers soon; the follower keeps up after.
    match tokio::time::timeout(Duration::from_secs(3), registry.refresh(store.as_ref())).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "cannot read the channels made through the API yet; will retry")
        }
        Err(_) => tracing::warn!(
            "the store did not answer within 3 s; channels made through the API start when it does"
        ),
    }
    // Declare the topology now; with the broker away, the bus declares it on connecting.
    if let Err(e) = seedgate_runtime::topology::declare_for(bus.as_ref(), &config, &registry.current()).await
    {
        tracing::warn!(error = %e, "bus not reachable at start; will retry in the background");
    }

    let mut readiness = Readiness::default().bus(bus.clone()).draining_on(signal.clone());
    // The store service alone keeps no session state (the others do, or report channel
    // status there): its readiness does not wait for the session store.
    if !matches!(role, Role::One(Service::Store)) {
        readiness = readiness.session_store(sessions.clone());
    }
    if needs_store {
        readiness = readiness.store(store.clone());
    }
    let mut app = seedgate_runtime::ops::router(readiness);
    if matches!(role, Role::All) {
        app = app.merge(demo_registry());
    }
    let services_stop = CancellationToken::new();
    let store_stop = CancellationToken::new();
    let mut services = JoinSet::new();
    let mut store_task = JoinSet::new();
    let mut helpers = JoinSet::new();
    helpers.spawn(seedgate_runtime::channels::follow(
        registry.clone(),
        store.clone(),
        CHANNELS_EVERY,
        services_stop.clone(),
    ));
    helpers.spawn(seedgate_runtime::topology::follow(
        bus.clone(),
        config.clone(),
        registry.clone(),
        services_stop.clone(),
    ));
    helpers.spawn(monitor.clone().run(sessions.clone(), services_stop.clone()));

    if role.runs(Service::HttpChannels) {
        let channels = seedgate_http_channels::Channels::new(
            config.clone(),
            registry.clone(),
            bus.clone(),
            Some(sessions.clone()),
            monitor.clone(),
        );
        app = app.merge(seedgate_http_channels::app(channels.clone()));
        services.spawn(supervise(
            "http-channels",
            seedgate_http_channels::run(channels, services_stop.clone()),
        ));
    }
    if role.runs(Service::Sessions) {
        services.spawn(supervise(
            "sessions",
            seedgate_sessions::run(
                config.clone(),
                registry.clone(),
                bus.clone(),
                sessions.clone(),
                services_stop.clone(),
            ),
        ));
    }
    if let Some(flows) = flows {
        services.spawn(supervise(
            "flows",
            seedgate_flows::run(
                config.clone(),
                registry.clone(),
                flows,
                seedgate_flows::Backends {
                    bus: bus.clone(),
                    sessions: sessions.clone(),
                    store: store.clone(),
                },
                services_stop.clone(),
            ),
        ));
    }
    if role.runs(Service::Smpp) {
        services.spawn(supervise(
            "simulated-carrier",
            seedgate_smpp::sim::run(
                config.clone(),
                registry.clone(),
                bus.clone(),
                monitor.clone(),
                services_stop.clone(),
            ),
        ));
        services.spawn(supervise(
            "smpp-esme",
            seedgate_smpp::esme::run(
                config.clone(),
                registry.clone(),
                bus.clone(),
                sessions.clone(),
                monitor.clone(),
                services_stop.clone(),
            ),
        ));
    }
    if let Some((server, listener, tls)) = smpp_server {
        let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
        let tls_addr = tls
            .as_ref()
            .and_then(|(l, _)| l.local_addr().ok())
            .map(|a| a.to_string());
        tracing::info!(listen = %addr, tls_listen = ?tls_addr, "SMPP server listening");
        services.spawn(supervise(
            "smpp-server",
            seedgate_smpp::server::run(server, listener, tls, services_stop.clone()),
        ));
    }
    if api_on {
        let api = seedgate_api::Api::new(
            config.clone(),
            registry.clone(),
            store.clone(),
            bus.clone(),
            Some(sessions.clone()),
        );
        app = app.merge(seedgate_api::routes::router(api.clone()));
        services.spawn(supervise("api", seedgate_api::run(api, services_stop.clone())));
    }
    if role.runs(Service::Store) {
        store_task.spawn(supervise(
            "store",
            seedgate_store::run(
                config.clone(),
                registry.clone(),
                bus.clone(),
                store.clone(),
                store_stop.clone(),
            ),
        ));
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
                Some(_) = services.join_next() => { signal.cancel(); }
                Some(_) = store_task.join_next() => { signal.cancel(); }
            }
            let _ = http.await;
            services_stop.cancel();
            while services.join_next().await.is_some() {}
            store_stop.cancel();
            while store_task.join_next().await.is_some() {}
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

/// Runs one service future, turning its failure into a log line.
async fn supervise<E: std::fmt::Display>(
    name: &'static str,
    fut: impl std::future::Future<Output = Result<(), E>>,
) {
    match fut.await {
        Ok(()) => tracing::info!(service = name, "service stopped"),
        Err(e) => tracing::error!(service = name, error = %e, "service failed"),
    }
}

/// `seedgate migrate`.
pub async fn migrate(config: Config) -> Result<(), Failure> {
    seedgate_store::migrate(&config.store)
        .await
        .map_err(|e| Failure::Other(e.to_string()))
}

/// `seedgate token create`: a new API token, printed once.
pub async fn token_create(config: &Config, name: &str, scopes: &[String]) -> Result<(), Failure> {
    let scopes =
        seedgate_api::auth::parse_scopes(scopes).map_err(|e| Failure::Config(format!("--scopes: {e}")))?;
    let store = store(config)?;
    let (secret, token) = seedgate_api::create_token(store.as_ref(), name, scopes)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    #[allow(clippy::print_stdout)] // the token is this command's output
    {
        println!("{secret}");
    }
    eprintln!(
        "token {} ({}) with scopes {}: store it now, it is not shown again",
        token.id,
        token.name,
        token.scopes.join(",")
    );
    Ok(())
}

/// `seedgate healthcheck`: a plain HTTP/1.0 GET, so the image needs no curl.
pub async fn healthcheck(config: &Config, url: Option<String>) -> Result<(), Failure> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let url = url.unwrap_or_else(|| format!("http://{}/healthz", config.http.listen));
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Failure::Other(format!("only http:// URLs: {url}")))?;
    let (host, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(h, p)| (h, format!("/{p}")));
    let check = async {
        let mut stream = tokio::net::TcpStream::connect(host).await?;
        stream
            .write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
            .await?;
        let mut head = Vec::new();
        stream.read_to_end(&mut head).await?;
        Ok::<_, std::io::Error>(
            String::from_utf8_lossy(&head)
                .lines()
                .next()
                .unwrap_or_default()
                .to_string(),
        )
    };
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok(status)) if status.split_whitespace().nth(1) == Some("200") => Ok(()),
        Ok(Ok(status)) => Err(Failure::Other(format!("{url}: {status}"))),
        Ok(Err(e)) => Err(Failure::Other(format!("{url}: {e}"))),
        Err(_) => Err(Failure::Other(format!("{url}: no answer within 3 s"))),
    }
}

/// `seedgate smsc-sim`: runs the SMSC simulator until SIGTERM/SIGINT.
pub async fn smsc_sim(
    config: &Config,
    listen: &str,
    sim: seedgate_smpp::smsc_sim::SimConfig,
) -> Result<(), Failure> {
    seedgate_runtime::telemetry::init(&config.log).map_err(Failure::Config)?;
    let addr: std::net::SocketAddr = listen
        .parse()
        .map_err(|e| Failure::Config(format!("invalid --listen `{listen}`: {e}")))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Failure::Other(format!("cannot listen on {listen}: {e}")))?;
    let stop = CancellationToken::new();
    seedgate_runtime::shutdown::cancel_on_signal(stop.clone())
        .map_err(|e| Failure::Other(format!("cannot install signal handlers: {e}")))?;
    let running = seedgate_smpp::smsc_sim::SmscSim::start(listener, sim, stop.clone())
        .map_err(|e| Failure::Other(e.to_string()))?;
    tracing::info!(listen = %running.addr, "SMSC simulator listening");
    stop.cancelled().await;
    let stats = running.stats();
    let n = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    tracing::info!(
        binds = n(&stats.binds),
        submits = n(&stats.submits_accepted),
        throttled = n(&stats.submits_throttled),
        receipts = n(&stats.receipts_sent),
        "SMSC simulator stopped"
    );
    Ok(())
}

/// `seedgate campaigns report`: subscriptions per set and state, as a table on stdout.
#[allow(clippy::print_stdout)] // a command-line report
pub async fn campaigns_report(config: &Config) -> Result<(), Failure> {
    let store = store(config)?;
    let behind = chrono::Utc::now() - chrono::Duration::hours(1);
    let rows = store
        .subscription_counts(behind)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    println!(
        "{:<24}  {:<10}  {:>9}  {:>9}",
        "message set", "state", "count", "behind"
    );
    for r in &rows {
        let late = if r.state == "active" {
            r.behind.to_string()
        } else {
            "-".into()
        };
        println!("{:<24}  {:<10}  {:>9}  {:>9}", r.set, r.state, r.count, late);
    }
    Ok(())
}

/// `seedgate sessions report`: billing per day, channel and flow, as a table on stdout.
#[allow(clippy::print_stdout)] // a command-line report
pub async fn sessions_report(config: &Config, days: u32) -> Result<(), Failure> {
    let store = store(config)?;
    let today = chrono::Utc::now().date_naive();
    let since = today - chrono::Duration::days(i64::from(days.max(1)) - 1);
    let since = since.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc();
    let rows = store
        .session_report(since)
        .await
        .map_err(|e| Failure::Other(e.to_string()))?;
    println!(
        "{:<10}  {:<20}  {:<20}  {:>9}  {:>9}  {:>9}",
        "day", "channel", "flow", "sessions", "hops", "slices"
    );
    let (mut sessions, mut hops, mut slices) = (0, 0, 0);
    for r in &rows {
        let flow = if r.flow.is_empty() { "-" } else { r.flow.as_str() };
        println!(
            "{:<10}  {:<20}  {:<20}  {:>9}  {:>9}  {:>9}",
            r.day, r.channel, flow, r.sessions, r.hops, r.slices
        );
        sessions += r.sessions;
        hops += r.hops;
        slices += r.slices;
    }
    println!(
        "{:<10}  {:<20}  {:<20}  {:>9}  {:>9}  {:>9}",
        "total", "", "", sessions, hops, slices
    );
    Ok(())
}
