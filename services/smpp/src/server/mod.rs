//! The SMPP server connector: carriers, aggregators and partner apps bind to seedgate.
//!
//! - Binds are checked against accounts (Argon2 password hashes, IP allow-lists, a maximum
//!   number of binds); a connection that does not bind within `unbound_timeout_secs` is closed.
//!   A refused bind is answered after a pause, so guessing passwords is slow.
//! - A `submit_sm` becomes an outbound `Message` on the account's route and is answered
//!   `ESME_ROK` only once the bus has confirmed it (durable); otherwise a temporary error
//!   (`ESME_RSYSERR`, or `ESME_RMSGQFUL` when the queue refuses it).
//! - Delivery reports for the account's messages go back to one of its receiving binds as
//!   `deliver_sm` receipts ([`receipts`]).
//! - An account with a `ussd_channel` is a USSD gateway: its USSD submits are dialogs
//!   ([`crate::dialogs`]), answered with `deliver_sm` on the dialog's bind.
//! - Inbound SMS on an account's `mo_channels` go to one of its receiving binds ([`mo`]).
//! - `unbind` is answered with `unbind_resp` before the connection closes.

mod auth;
mod mo;
mod receipts;
mod session;

use crate::error::SetupError;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use auth::{Account, Accounts, Refusal};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::config::{ChannelConfig, Config, SmppAccount};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::link::{Link, LinkConfig};

/// A bound connection, as the registry knows it.
#[derive(Debug, Clone)]
pub(crate) struct Bound {
    id: u64,
    link: Link,
    receives: bool,
}

/// Shared state of the server.
#[derive(Debug)]
pub struct Server {
    config: Arc<Config>,
    bus: Arc<dyn Bus>,
    accounts: Accounts,
    binds: Mutex<HashMap<String, Vec<Bound>>>,
    next_bind: AtomicU64,
    /// Status of the USSD channels of gateway accounts: up while the gateway is bound.
    monitor: Arc<seedgate_runtime::monitor::Monitor>,
    next_rr: AtomicU64,
    /// Our message id → who submitted it, for receipts (a cache: the stored message says it
    /// too, after a restart or on another replica).
    submitted: Mutex<HashMap<uuid::Uuid, Option<receipts::Submitted>>>,
    /// Where the submitted messages are, to address receipts the cache does not know.
    store: Option<Arc<dyn seedgate_runtime::store::Store>>,
    /// Cancelled when the process starts draining: binds are refused from then on.
    pub(crate) draining: CancellationToken,
    /// USSD gateways among the accounts: system_id → their dialogs.
    ussd: HashMap<String, Arc<crate::dialogs::Dialogs>>,
}

impl Server {
    pub fn new(config: Arc<Config>, bus: Arc<dyn Bus>) -> Result<Arc<Self>, SetupError> {
        Self::with_monitor(config, bus, seedgate_runtime::monitor::Monitor::new())
    }

    /// [`Server::new`], reporting the USSD gateway accounts' channels to `monitor`.
    pub fn with_monitor(
        config: Arc<Config>,
        bus: Arc<dyn Bus>,
        monitor: Arc<seedgate_runtime::monitor::Monitor>,
    ) -> Result<Arc<Self>, SetupError> {
        let accounts = Accounts::new(&config.smpp_server.accounts)?;
        let mut ussd = HashMap::new();
        for (a, channel, profile, ch) in gateways(&config)? {
            let dialogs = crate::dialogs::Dialogs::new(
                channel,
                profile,
                crate::dialogs::ReplyWith::DeliverSm,
                Duration::from_millis(ch.hop_deadline_ms),
                &ch.fallback_text,
                bus.clone(),
            );
            ussd.insert(a.system_id.clone(), dialogs);
            gateway_status(&monitor, channel, &a.system_id, 0);
        }
        Ok(Arc::new(Self {
            config,
            bus,
            accounts,
            binds: Mutex::default(),
            next_bind: AtomicU64::new(1),
            monitor,
            next_rr: AtomicU64::new(0),
            submitted: Mutex::default(),
            store: None,
            draining: CancellationToken::new(),
            ussd,
        }))
    }

    /// The server of a process's runtime: [`Server::with_monitor`], finding in the store who
    /// submitted a message it does not remember (after a restart, or when another replica took
    /// the submit), and refusing binds once the process drains.
    pub fn for_runtime(rt: &seedgate_runtime::Runtime) -> Result<Arc<Self>, SetupError> {
        let mut server = Self::with_monitor(rt.config.clone(), rt.bus.clone(), rt.monitor.clone())?;
        if let Some(s) = Arc::get_mut(&mut server) {
            s.store = Some(rt.store.clone());
            s.draining = rt.draining.clone();
        }
        Ok(server)
    }

    /// What [`Server::new`] would refuse in `config`'s accounts, without building anything.
    pub fn check(config: &Config) -> Result<(), SetupError> {
        Accounts::new(&config.smpp_server.accounts)?;
        gateways(config).map(drop)
    }

    fn link_config(&self, window: usize) -> LinkConfig {
        LinkConfig {
            window,
            response_timeout: Duration::from_secs(10),
            enquire_link_every: Duration::from_secs(self.config.smpp_server.enquire_link_secs),
            ..LinkConfig::default()
        }
    }

    fn binds(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<Bound>>> {
        self.binds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a bind if the account has room; returns its id.
    fn register(&self, account: &Account, link: &Link, receives: bool) -> Option<u64> {
        let mut binds = self.binds();
        let list = binds.entry(account.cfg.system_id.clone()).or_default();
        if list.len() >= account.cfg.max_binds {
            return None;
        }
        let id = self.next_bind.fetch_add(1, Ordering::Relaxed);
        list.push(Bound {
            id,
            link: link.clone(),
            receives,
        });
        metrics::gauge!("seedgate_smpp_server_binds", "account" => account.cfg.system_id.clone())
            .set(list.len() as f64);
        if let Some(channel) = &account.cfg.ussd_channel {
            gateway_status(&self.monitor, channel, &account.cfg.system_id, list.len());
            self.monitor.log(
                channel,
                "in",
                format!("bind from {} ({} now)", account.cfg.system_id, list.len()),
            );
        }
        Some(id)
    }

    fn deregister(&self, system_id: &str, id: u64) {
        let mut binds = self.binds();
        if let Some(list) = binds.get_mut(system_id) {
            list.retain(|b| b.id != id);
            metrics::gauge!("seedgate_smpp_server_binds", "account" => system_id.to_string())
                .set(list.len() as f64);
            let channel = self.ussd.get(system_id).map(|d| d.channel().to_string());
            if let Some(channel) = channel {
                gateway_status(&self.monitor, &channel, system_id, list.len());
                self.monitor.log(
                    &channel,
                    "in",
                    format!("unbind of {system_id} ({} left)", list.len()),
                );
            }
        }
    }

    /// A receiving bind of `system_id`, round robin.
    fn receiver(&self, system_id: &str) -> Option<Link> {
        let binds = self.binds();
        let live: Vec<&Bound> = binds
            .get(system_id)?
            .iter()
            .filter(|b| b.receives && !b.link.is_closed())
            .collect();
        if live.is_empty() {
            return None;
        }
        let i = self.next_rr.fetch_add(1, Ordering::Relaxed) as usize % live.len();
        Some(live[i].link.clone())
    }
}

/// A USSD gateway's channel is up while the gateway has a bind.
fn gateway_status(
    monitor: &seedgate_runtime::monitor::Monitor,
    channel: &str,
    system_id: &str,
    binds: usize,
) {
    use seedgate_runtime::monitor::Health;
    if binds == 0 {
        monitor.status(
            channel,
            Health::Down,
            vec![format!("the USSD gateway (account `{system_id}`) is not bound")],
        );
    } else {
        monitor.status(
            channel,
            Health::Ok,
            vec![format!("{binds} bind(s) of account `{system_id}`")],
        );
    }
}

/// The accounts that are USSD gateways, with their channel's name, profile and config.
#[allow(clippy::type_complexity)]
fn gateways(
    config: &Config,
) -> Result<Vec<(&SmppAccount, &str, &'static crate::ussd::Profile, &ChannelConfig)>, SetupError> {
    let mut out = Vec::new();
    for a in &config.smpp_server.accounts {
        let Some(channel) = &a.ussd_channel else { continue };
        let name = a.ussd_profile.as_deref().unwrap_or("tata");
        let profile = crate::ussd::profile(name).ok_or_else(|| {
            format!(
                "account {}: unknown ussd_profile `{name}` (use tata, 6d or mica)",
                a.system_id
            )
        })?;
        let ch = config
            .channels
            .get(channel)
            .ok_or_else(|| format!("account {}: no channel `{channel}`", a.system_id))?;
        out.push((a, channel.as_str(), profile, ch));
    }
    Ok(out)
}

/// Runs the server on `listener` until `shutdown`; open binds get an `unbind` first.
pub async fn run(
    server: Arc<Server>,
    listener: TcpListener,
    tls: Option<(TcpListener, tokio_rustls::TlsAcceptor)>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let receipts = tokio::spawn(receipts::run(server.clone(), shutdown.clone()));
    let mo = tokio::spawn(mo::run(server.clone(), shutdown.clone()));
    let ussd = tokio::spawn(ussd_replies(server.clone(), shutdown.clone()));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let tls_accept = async {
            match &tls {
                Some((l, _)) => l.accept().await,
                None => std::future::pending().await,
            }
        };
        let (stream, peer, secure) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((s, p)) => (s, p, false),
                Err(e) => {
                    tracing::warn!(error = %e, "SMPP accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            accepted = tls_accept => match accepted {
                Ok((s, p)) => (s, p, true),
                Err(e) => {
                    tracing::warn!(error = %e, "SMPP TLS accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let _ = stream.set_nodelay(true);
        match (&tls, secure) {
            (Some((_, acceptor)), true) => {
                let (acceptor, server, shutdown) = (acceptor.clone(), server.clone(), shutdown.clone());
                conns.spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                        Ok(Ok(tls_stream)) => session::serve(server, tls_stream, peer, shutdown).await,
                        Ok(Err(e)) => tracing::warn!(%peer, error = %e, "SMPP TLS handshake failed"),
                        Err(_) => tracing::warn!(%peer, "SMPP TLS handshake timed out"),
                    }
                });
            }
            _ => {
                conns.spawn(session::serve(server.clone(), stream, peer, shutdown.clone()));
            }
        }
    }
    // Draining: the open binds unbind; a new connection is still accepted, so its bind gets an
    // answer (`ESME_RBINDFAIL`) instead of waiting in the listen queue.
    // Those refusals do not hold the drain up: they end with it.
    let mut refusing = tokio::task::JoinSet::new();
    while !conns.is_empty() {
        tokio::select! {
            accepted = listener.accept() => if let Ok((stream, peer)) = accepted {
                refusing.spawn(session::serve(server.clone(), stream, peer, shutdown.clone()));
            },
            _ = conns.join_next() => {}
            Some(_) = refusing.join_next(), if !refusing.is_empty() => {}
        }
    }
    let mo = mo.await.unwrap_or(Ok(()));
    let ussd = ussd.await.unwrap_or(Ok(()));
    receipts.await.unwrap_or(Ok(())).and(mo).and(ussd)
}

/// Binds the configured address (`smpp_server.listen`).
pub async fn bind(config: &Config) -> std::io::Result<TcpListener> {
    let addr: SocketAddr = config
        .smpp_server
        .listen
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("{e}")))?;
    TcpListener::bind(addr).await
}

/// Binds the TLS listener (`smpp_server.tls`), if configured, with its acceptor.
pub async fn bind_tls(
    config: &Config,
) -> Result<Option<(TcpListener, tokio_rustls::TlsAcceptor)>, SetupError> {
    let Some(tls) = &config.smpp_server.tls else {
        return Ok(None);
    };
    let acceptor = crate::tls::acceptor(&tls.cert_file, &tls.key_file)?;
    let listener = TcpListener::bind(&tls.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", tls.listen))?;
    Ok(Some((listener, acceptor)))
}

/// Replies to USSD gateways' dialogs: each USSD channel's outbound queue → `deliver_sm`.
async fn ussd_replies(server: Arc<Server>, shutdown: CancellationToken) -> Result<(), BusError> {
    let mut tasks = tokio::task::JoinSet::new();
    for dialogs in server.ussd.values() {
        let queue = seedgate_runtime::topology::channel_outbound_queue(dialogs.channel());
        let handler = {
            let dialogs = dialogs.clone();
            move |_key: String, payload: Vec<u8>| {
                let dialogs = dialogs.clone();
                async move { dialogs.reply(seedgate_runtime::worker::decode(&payload)?).await }
            }
        };
        let (bus, prefetch, shutdown) = (server.bus.clone(), server.config.bus.prefetch, shutdown.clone());
        tasks.spawn(async move {
            seedgate_runtime::worker::consume("smpp-server-ussd", bus, &queue, prefetch, shutdown, handler)
                .await
        });
    }
    seedgate_runtime::worker::join_all(tasks, shutdown).await
}
