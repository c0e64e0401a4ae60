//! The live set of channels: those of the config file, and those created through the API
//! (rows in the store), each with a generation that a restart bumps.
//!
//! Every process holds a [`Registry`]. [`follow`] keeps it in step with the store's channel
//! rows (every few seconds, and at once when this process's API changed one), and
//! [`supervise`] runs one task per channel of a connector's kinds: it starts a task for a new
//! channel, restarts it when the channel's definition or generation changes, and stops it
//! when the channel is deleted, all without restarting the process.
//!
//! Channels of the config file cannot be changed or deleted through the API (the file is
//! their truth); they can be restarted.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::bus::BusError;
use crate::config::{ChannelConfig, Config, ConfigError};
use crate::store::{Store, StoreError, StoredChannel};

/// Where a channel is defined.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A `[channels.<name>]` section of the config file.
    File,
    /// Created through the API; its definition is in the store.
    Api,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::File => "config",
            Self::Api => "api",
        }
    }
}

/// One channel as it runs now. Two are equal when they run the same way (name, config,
/// generation, origin): when a change was made is not a change.
#[derive(Debug, Clone)]
pub struct Live {
    pub name: String,
    pub config: Arc<ChannelConfig>,
    /// Bumped by every change or restart made through the API; connectors restart on a change.
    pub generation: i64,
    pub origin: Origin,
    /// When it was last made, changed or restarted (a config file channel: when this process
    /// read the file); a channel whose connector has not reported since is `starting`.
    pub changed_at: chrono::DateTime<chrono::Utc>,
}

impl PartialEq for Live {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, &self.config, self.generation, self.origin)
            == (&other.name, &other.config, other.generation, other.origin)
    }
}

/// Every channel, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelSet {
    map: BTreeMap<String, Live>,
}

impl ChannelSet {
    pub fn get(&self, name: &str) -> Option<&Live> {
        self.map.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Live> {
        self.map.values()
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.map.keys().map(String::as_str)
    }
}

/// The live channels of this process; cheap to clone.
#[derive(Debug, Clone)]
pub struct Registry {
    file: Arc<BTreeMap<String, ChannelConfig>>,
    /// When this process read the config file's channels.
    started: chrono::DateTime<chrono::Utc>,
    tx: Arc<watch::Sender<Arc<ChannelSet>>>,
    /// Asks [`follow`] to read the store now (after a change made by this process).
    poke: Arc<Notify>,
    /// Stored definitions found invalid (name, generation): each is logged once.
    invalid: Arc<std::sync::Mutex<std::collections::BTreeSet<(String, i64)>>>,
}

/// Parses a channel definition made through the API (the keys of a `[channels.<name>]`
/// section, as JSON) and checks it as the config file's channels are checked.
pub fn parse_definition(name: &str, definition: &serde_json::Value) -> Result<ChannelConfig, ConfigError> {
    let config = ChannelConfig::parse(name, definition)?;
    config.validate(name)?;
    Ok(config)
}

impl Registry {
    /// The config file's channels, at generation 0.
    pub fn new(config: &Config) -> Self {
        let file = Arc::new(config.channels.clone());
        let started = chrono::Utc::now();
        let set = Self::build_from(&file, started, &[], |_, _| {});
        Self {
            started,
            file,
            tx: Arc::new(watch::channel(Arc::new(set)).0),
            poke: Arc::new(Notify::new()),
            invalid: Arc::default(),
        }
    }

    fn build(&self, rows: &[StoredChannel]) -> ChannelSet {
        let mut invalid = self
            .invalid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::build_from(&self.file, self.started, rows, |row, e| {
            if invalid.insert((row.name.clone(), row.generation)) {
                tracing::error!(channel = %row.name, error = %e, "a stored channel definition is invalid; the channel is not run");
            }
        })
    }

    fn build_from(
        file: &BTreeMap<String, ChannelConfig>,
        started: chrono::DateTime<chrono::Utc>,
        rows: &[StoredChannel],
        mut on_invalid: impl FnMut(&StoredChannel, &ConfigError),
    ) -> ChannelSet {
        let mut map: BTreeMap<String, Live> = file
            .iter()
            .map(|(name, c)| {
                let live = Live {
                    name: name.clone(),
                    config: Arc::new(c.clone()),
                    generation: 0,
                    origin: Origin::File,
                    changed_at: started,
                };
                (name.clone(), live)
            })
            .collect();
        for row in rows {
            match (map.get_mut(&row.name), &row.definition) {
                (Some(live), _) => {
                    live.generation = row.generation;
                    live.changed_at = live.changed_at.max(row.updated_at);
                }
                (None, Some(def)) => match parse_definition(&row.name, def) {
                    Ok(config) => {
                        let live = Live {
                            name: row.name.clone(),
                            config: Arc::new(config),
                            generation: row.generation,
                            origin: Origin::Api,
                            changed_at: row.updated_at,
                        };
                        map.insert(row.name.clone(), live);
                    }
                    Err(e) => on_invalid(row, &e),
                },
                (None, None) => {} // a restart of a channel since removed from the file
            }
        }
        ChannelSet { map }
    }

    /// The channels now.
    pub fn current(&self) -> Arc<ChannelSet> {
        self.tx.borrow().clone()
    }

    /// One channel's config now.
    pub fn get(&self, name: &str) -> Option<Arc<ChannelConfig>> {
        self.tx.borrow().get(name).map(|l| l.config.clone())
    }

    /// Whether `name` is a channel of the config file.
    pub fn in_file(&self, name: &str) -> bool {
        self.file.contains_key(name)
    }

    /// A receiver that sees every change of the set.
    pub fn watch(&self) -> watch::Receiver<Arc<ChannelSet>> {
        self.tx.subscribe()
    }

    /// Rebuilds the set from the file and the store's rows; subscribers hear of it only when
    /// something changed.
    pub fn apply(&self, rows: &[StoredChannel]) {
        let set = self.build(rows);
        self.tx.send_if_modified(|now| {
            if **now == set {
                false
            } else {
                *now = Arc::new(set);
                true
            }
        });
    }

    /// Reads the store's rows and applies them.
    pub async fn refresh(&self, store: &dyn Store) -> Result<(), StoreError> {
        let rows = store.channels_stored().await?;
        self.apply(&rows);
        Ok(())
    }

    /// Makes [`follow`] read the store now.
    pub fn poke(&self) {
        self.poke.notify_one();
    }
}

/// Keeps `registry` in step with the store until `shutdown`: now, every `every`, and when
/// poked. While the store is away the set stays as it was.
pub async fn follow(registry: Registry, store: Arc<dyn Store>, every: Duration, shutdown: CancellationToken) {
    let mut warned = false;
    loop {
        match registry.refresh(store.as_ref()).await {
            Ok(()) => warned = false,
            Err(e) if !warned => {
                tracing::warn!(error = %e, "cannot read the channels from the store; keeping the ones known");
                warned = true;
            }
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            () = registry.poke.notified() => {}
            () = shutdown.cancelled() => return,
        }
    }
}

/// Stops a channel's task: `shutdown` when the process stops (consumers of an in-process bus
/// drain), `halt` when this channel stops or restarts (unacked deliveries go back). `halt` is
/// a child of `shutdown`: it fires in both cases, so a task that only needs to know "stop
/// now" waits on `halt`.
#[derive(Debug, Clone)]
pub struct Stop {
    pub shutdown: CancellationToken,
    pub halt: CancellationToken,
}

/// Runs `start` for every channel that `wants`, until `shutdown`: a task per channel,
/// restarted when its definition or generation changes, stopped when the channel goes. A
/// channel's new task starts only once its old one has ended (its binds are closed, its
/// deliveries given back), so a carrier that allows one bind never sees two. A task that ends
/// by itself is started again at the channel's next change. The first task to fail for good
/// stops the rest and is returned, as [`crate::worker::join_all`] does.
pub async fn supervise<F, Fut>(
    service: &'static str,
    registry: Registry,
    wants: fn(&ChannelConfig) -> bool,
    start: F,
    shutdown: CancellationToken,
) -> Result<(), BusError>
where
    F: Fn(Live, Stop) -> Fut,
    Fut: Future<Output = Result<(), BusError>> + Send + 'static,
{
    let mut watch = registry.watch();
    // Tasks alive now, by channel, with what they run and their halt; `stopping` were halted.
    let mut running: BTreeMap<String, (Live, CancellationToken)> = BTreeMap::new();
    let mut stopping: std::collections::BTreeSet<String> = Default::default();
    // Tasks that ended by themselves, with what they ran: not started again until it changes.
    let mut ended: BTreeMap<String, Live> = BTreeMap::new();
    let mut tasks: JoinSet<(String, Result<(), BusError>)> = JoinSet::new();
    let mut result = Ok(());
    loop {
        let set = watch.borrow_and_update().clone();
        for (name, (live, halt)) in &running {
            if !stopping.contains(name) && set.get(name) != Some(live) {
                tracing::info!(service, channel = %name, "channel changed or removed; stopping its connector");
                halt.cancel();
                stopping.insert(name.clone());
            }
        }
        ended.retain(|name, live| set.get(name) == Some(live));
        for live in set.iter().filter(|l| wants(&l.config)) {
            if running.contains_key(&live.name) || ended.contains_key(&live.name) {
                continue;
            }
            let halt = shutdown.child_token();
            let stop = Stop {
                shutdown: shutdown.clone(),
                halt: halt.clone(),
            };
            if live.generation > 0 {
                tracing::info!(service, channel = %live.name, generation = live.generation, "starting the channel's connector");
            }
            let (name, fut) = (live.name.clone(), start(live.clone(), stop));
            tasks.spawn(async move { (name, fut.await) });
            running.insert(live.name.clone(), (live.clone(), halt));
        }
        tokio::select! {
            changed = watch.changed() => {
                if changed.is_err() {
                    shutdown.cancelled().await;
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                let Ok((name, outcome)) = done else { continue };
                let halted = stopping.remove(&name);
                if let Some((live, _)) = running.remove(&name) {
                    if !halted {
                        ended.insert(name.clone(), live);
                    }
                }
                if let Err(e) = outcome {
                    tracing::error!(service, channel = %name, error = %e, "channel connector failed");
                    result = Err(e);
                    shutdown.cancel();
                }
            }
            () = shutdown.cancelled() => break,
        }
    }
    while let Some(done) = tasks.join_next().await {
        if let (Ok((_, Err(e))), Ok(())) = (done, &result) {
            result = Err(e);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::config::ChannelType;

    fn row(name: &str, generation: i64, delay: u64) -> StoredChannel {
        StoredChannel {
            name: name.into(),
            definition: Some(serde_json::json!({"type": "simulated-carrier", "sim_dlr_delay_ms": delay})),
            generation,
            updated_at: chrono::Utc::now(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn channels_start_restart_one_at_a_time_and_stop() {
        let registry = Registry::new(&Config::default());
        let events: Arc<Mutex<Vec<String>>> = Arc::default();
        let shutdown = CancellationToken::new();
        let log = events.clone();
        let start = move |live: Live, stop: Stop| {
            let log = log.clone();
            async move {
                let me = format!("{}@{}", live.name, live.generation);
                log.lock().unwrap().push(format!("start {me}"));
                stop.halt.cancelled().await;
                // Unbinding takes a while: the next one must wait for it.
                tokio::time::sleep(Duration::from_millis(500)).await;
                log.lock().unwrap().push(format!("stop {me}"));
                Ok(())
            }
        };
        let task = tokio::spawn(supervise(
            "test",
            registry.clone(),
            |c| c.channel_type() == ChannelType::SimulatedCarrier,
            start,
            shutdown.clone(),
        ));
        let settle = || tokio::time::sleep(Duration::from_secs(2));
        settle().await;
        registry.apply(&[row("api-sms", 1, 10)]);
        settle().await;
        registry.apply(&[row("api-sms", 2, 20)]); // changed: restart
        settle().await;
        registry.apply(&[row("api-sms", 2, 20)]); // the same again: nothing
        settle().await;
        registry.apply(&[]); // deleted
        settle().await;
        shutdown.cancel();
        task.await.unwrap().unwrap();
        assert_eq!(
            *events.lock().unwrap(),
            [
                "start demo-sms@0",
                "start api-sms@1",
                "stop api-sms@1",
                "start api-sms@2",
                "stop api-sms@2",
                "stop demo-sms@0",
            ]
        );
    }

    #[test]
    fn a_stored_definition_that_does_not_validate_is_left_out() {
        let registry = Registry::new(&Config::default());
        let mut bad = row("bad", 1, 10);
        bad.definition = Some(serde_json::json!({"type": "smpp-esme"}));
        registry.apply(&[bad, row("good", 1, 10)]);
        let set = registry.current();
        assert!(set.get("bad").is_none());
        assert_eq!(set.get("good").map(|l| l.origin), Some(Origin::Api));
        assert_eq!(set.get("demo-sms").map(|l| l.origin), Some(Origin::File));
    }

    #[test]
    fn definitions_are_checked_like_the_config_file() {
        let e = parse_definition(
            "x",
            &serde_json::json!({"type": "simulated-carrier", "sim_failure_rate": 2.0}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("channels.x.sim_failure_rate"), "{e}");
        let e = parse_definition(
            "x",
            &serde_json::json!({"type": "smpp-esme", "smpp": {"address": "h:1", "system_id": 5}}),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("channels.x.smpp.system_id"), "{e}");
    }
}
