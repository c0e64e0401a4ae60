//! The flow runner as a service of the process: what it checks before any port is bound (the
//! flow files load and validate, every channel's flow exists) and its [`Service`].

use std::path::Path;

use seedgate_flowlang::load::{self, read_path, Flows, Source};
use seedgate_flowlang::validate::Limits;
use seedgate_runtime::catalog::Catalog;
use seedgate_runtime::config::Config;
use seedgate_runtime::service::{BoxFuture, Running, ServiceError};
use seedgate_runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// The validator's limits for this deployment: the smallest screen of its USSD channels.
pub fn limits(config: &Config) -> Limits {
    seedgate_runtime::catalog::limits_for(config)
}

/// The flows folder's files: `flows.dir`, or the built-in demo and registration flows when the
/// default folder is missing (so `seedgate up` works from any folder).
pub fn folder(config: &Config) -> Result<Vec<Source>, ServiceError> {
    let dir = &config.flows.dir;
    if dir.exists() {
        read_path(dir).map_err(|e| ServiceError::Config(format!("bad flow file: {e}")))
    } else if dir == Path::new("flows") {
        tracing::info!("no ./flows folder; using the built-in demo and registration flows");
        Ok(vec![
            Source {
                path: "(built-in) demo.yaml".into(),
                text: seedgate_flowlang::BUILTIN_DEMO.into(),
            },
            Source {
                path: "(built-in) registration.yaml".into(),
                text: seedgate_flowlang::BUILTIN_REGISTRATION.into(),
            },
        ])
    } else {
        Err(ServiceError::Config(format!(
            "invalid config at `flows.dir`: {} does not exist",
            dir.display()
        )))
    }
}

/// Loads the flows folder ([`folder`]) and checks every channel's flow exists: the folder's
/// flows, which run until the store's published versions are loaded.
pub fn check(config: &Config) -> Result<Catalog, ServiceError> {
    let sources = folder(config)?;
    let (flows, report) = load::check(&sources, &limits(config));
    if let Some(e) = report.errors.into_iter().next() {
        return Err(ServiceError::Config(format!("bad flow file: {e}")));
    }
    // A channel's flow may be one published through the studio: it is checked against the
    // store's flows at start ([`missing_flows`]), before any port is bound.
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
    let catalog = Catalog::from_sources(flows, &sources);
    catalog.set_limits(limits(config));
    Ok(catalog)
}

/// The config file's channels whose `flow` is not among `flows`, as a config error naming the
/// first; `None` when every channel's flow exists.
pub fn missing_flows(config: &Config, flows: &Flows, whence: &str) -> Option<ServiceError> {
    config.channels.iter().find_map(|(name, ch)| {
        let flow = ch.flow.as_deref().filter(|f| !flows.has(f))?;
        Some(ServiceError::Config(format!(
            "invalid config at `channels.{name}.flow`: no flow named `{flow}` in {whence}"
        )))
    })
}

/// The flow runner as a service of the process (`seedgate run flows`): it imports the flows
/// folder its check loaded when the store has no published flows, and runs the store's.
#[derive(Debug, Default)]
pub struct Service {
    folder: Option<Catalog>,
}

impl seedgate_runtime::Service for Service {
    fn name(&self) -> &'static str {
        "flows"
    }

    fn check(&mut self, config: &Config) -> Result<(), ServiceError> {
        self.folder = Some(check(config)?);
        Ok(())
    }

    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>> {
        let rt = rt.clone();
        Box::pin(async move {
            let folder = match self.folder {
                Some(f) => f,
                None => check(&rt.config)?,
            };
            rt.catalog.install(&folder);
            let started = tokio::time::timeout(
                std::time::Duration::from_secs(3),
                rt.catalog.start(rt.store.as_ref()),
            )
            .await;
            match started {
                Ok(Ok(())) => {
                    if let Some(e) =
                        missing_flows(&rt.config, &rt.catalog.current().flows, "the published flows")
                    {
                        return Err(e);
                    }
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot read the published flows yet; the flows folder runs until the store answers")
                }
                Err(_) => {
                    tracing::warn!("the store did not answer within 3 s; the flows folder runs until it does")
                }
            }
            if let Some(e) = missing_flows(&rt.config, &rt.catalog.current().flows, "the flows loaded") {
                tracing::warn!(error = %e, "a channel's flow is not loaded yet: its messages are refused until the store answers");
            }
            tokio::spawn(rt.catalog.clone().follow(rt.store.clone(), shutdown.clone()));
            let task = async move { crate::service::run(&rt, shutdown).await };
            Ok(Running::default().task("flows", task))
        })
    }
}
