//! The flow runner as a service of the process: what it checks before any port is bound (the
//! flow files load and validate, every channel's flow exists) and its [`Service`].

use std::path::Path;

use seedgate_flowlang::load::{load_path, Flows};
use seedgate_flowlang::validate::Limits;
use seedgate_runtime::config::Config;
use seedgate_runtime::service::{BoxFuture, Running, ServiceError};
use seedgate_runtime::Runtime;
use tokio_util::sync::CancellationToken;

/// The validator's limits for this deployment: the smallest screen of its USSD channels.
pub fn limits(config: &Config) -> Limits {
    let mut l = Limits::default();
    if let Some(min) = config
        .channels
        .values()
        .filter(|c| c.channel_type().is_ussd())
        .map(|c| c.max_screen_chars)
        .min()
    {
        l.max_screen_chars = min;
    }
    l
}

/// Loads the flows of `flows.dir` and checks every channel's flow exists. With the default
/// folder missing, the built-in demo flow is used (so `seedgate up` works from any folder).
pub fn check(config: &Config) -> Result<Flows, ServiceError> {
    let dir = &config.flows.dir;
    let flows = if dir.exists() {
        load_path(dir, &limits(config))
    } else if dir == Path::new("flows") {
        tracing::info!("no ./flows folder; using the built-in demo and registration flows");
        seedgate_flowlang::builtin()
    } else {
        return Err(ServiceError::Config(format!(
            "invalid config at `flows.dir`: {} does not exist",
            dir.display()
        )));
    }
    .map_err(|e| ServiceError::Config(format!("bad flow file: {e}")))?;
    for (name, ch) in &config.channels {
        if let Some(flow) = ch.flow.as_deref().filter(|f| flows.get(f).is_none()) {
            return Err(ServiceError::Config(format!(
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

/// The flow runner as a service of the process (`seedgate run flows`): it runs the flows
/// its check loaded.
#[derive(Debug, Default)]
pub struct Service {
    flows: Option<Flows>,
}

impl seedgate_runtime::Service for Service {
    fn name(&self) -> &'static str {
        "flows"
    }

    fn check(&mut self, config: &Config) -> Result<(), ServiceError> {
        self.flows = Some(check(config)?);
        Ok(())
    }

    fn start(
        self: Box<Self>,
        rt: &Runtime,
        shutdown: CancellationToken,
    ) -> BoxFuture<'static, Result<Running, ServiceError>> {
        let rt = rt.clone();
        Box::pin(async move {
            let flows = match self.flows {
                Some(flows) => flows,
                None => check(&rt.config)?,
            };
            let task = async move { crate::service::run(&rt, flows, shutdown).await };
            Ok(Running::default().task("flows", task))
        })
    }
}
