//! The standard queues and their bindings, declared by every process at start.
//!
//! Declaring the whole topology everywhere means a message published before its consumer
//! first starts waits in a durable queue instead of being unroutable.

use seedgate_proto::RoutingKey;

use crate::bus::{Bus, BusError, QueueSpec};
use crate::channels::{ChannelSet, Registry};
use crate::config::Config;

/// Queue of the store service: everything connector-facing, and session records.
pub const STORE_QUEUE: &str = "store";
/// Queue of the session engine: connector inbound and flow replies.
pub const SESSIONS_QUEUE: &str = "sessions";
/// Queue of the flow runner: app-facing inbound.
pub const FLOWS_QUEUE: &str = "flows";

/// Queue of the SMPP server: delivery events, turned into receipts for partners.
pub const SMPP_SERVER_EVENTS_QUEUE: &str = "smpp-server.events";

/// Queue of the SMPP server: inbound SMS for partners (accounts' `mo_channels`).
pub const SMPP_SERVER_INBOUND_QUEUE: &str = "smpp-server.inbound";

/// Queue of the API's webhook collector: inbound messages and events of channels with webhooks.
pub const WEBHOOKS_QUEUE: &str = "api.webhooks";

/// Queue from which the connector of `channel` takes its outbound messages.
pub fn channel_outbound_queue(channel: &str) -> String {
    format!("channel.{channel}.outbound")
}

/// Queue from which the connector of `channel` takes campaign messages, one at a time.
pub fn channel_bulk_queue(channel: &str) -> String {
    format!("channel.{channel}.bulk")
}

/// Every queue of a deployment configured by `config`, with the channels of `channels`.
pub fn queues(config: &Config, channels: &ChannelSet) -> Vec<QueueSpec> {
    let mut specs = vec![
        QueueSpec::new(
            STORE_QUEUE,
            ["*.inbound", "*.outbound", "*.bulk", "*.event", "*.session"],
        ),
        QueueSpec::new(SESSIONS_QUEUE, ["*.inbound", "*.app.outbound"]),
        QueueSpec::new(FLOWS_QUEUE, ["*.app.inbound"]),
    ];
    if config.smpp_server.enabled {
        // Only the channels partners submit to: their receipts are owed to a partner. (Bound
        // to every channel's events, each MT message of any channel cost this queue two
        // journal rows and two deliveries that its consumer then dropped.)
        let mut routes: Vec<String> = config
            .smpp_server
            .accounts
            .iter()
            .map(|a| RoutingKey::Event(&a.route).render())
            .collect();
        routes.sort();
        routes.dedup();
        specs.push(QueueSpec::new(SMPP_SERVER_EVENTS_QUEUE, routes));
        let mo: Vec<String> = config
            .smpp_server
            .accounts
            .iter()
            .flat_map(|a| a.mo_channels.iter().map(|c| RoutingKey::Inbound(c).render()))
            .collect();
        if !mo.is_empty() {
            specs.push(QueueSpec::new(SMPP_SERVER_INBOUND_QUEUE, mo));
        }
    }
    let hooked: Vec<String> = channels
        .iter()
        .filter_map(|l| l.config.webhooks.as_ref().map(|w| hook_keys(&l.name, w)))
        .flatten()
        .collect();
    if config.api.enabled {
        // Declared even without bindings: the API's collector consumes it, and channels made
        // through the API add theirs.
        specs.push(QueueSpec::new(WEBHOOKS_QUEUE, hooked));
    }
    for channel in channels.names() {
        specs.push(outbound_spec(channel));
        specs.push(bulk_spec(channel));
    }
    specs
}

/// Declares every queue of the deployment (idempotent).
pub async fn declare(bus: &dyn Bus, config: &Config) -> Result<(), BusError> {
    declare_for(bus, config, &Registry::new(config).current()).await
}

/// Declares every queue of the deployment with the channels of `channels` (idempotent:
/// declaring again adds bindings).
pub async fn declare_for(bus: &dyn Bus, config: &Config, channels: &ChannelSet) -> Result<(), BusError> {
    for spec in queues(config, channels) {
        bus.declare(&spec).await?;
    }
    Ok(())
}

/// Declares the queues one channel needs (its outbound queue; its webhook bindings), before
/// anything is sent to it: a channel made through the API is declared before it is stored.
pub async fn declare_channel(
    bus: &dyn Bus,
    config: &Config,
    name: &str,
    channel: &crate::config::ChannelConfig,
) -> Result<(), BusError> {
    bus.declare(&outbound_spec(name)).await?;
    bus.declare(&bulk_spec(name)).await?;
    if let (true, Some(w)) = (config.api.enabled, &channel.webhooks) {
        let keys = hook_keys(name, w);
        if !keys.is_empty() {
            bus.declare(&QueueSpec::new(WEBHOOKS_QUEUE, keys)).await?;
        }
    }
    Ok(())
}

/// The bulk queue of `channel`, bound to `<channel>.bulk`.
pub fn bulk_spec(channel: &str) -> QueueSpec {
    QueueSpec::new(channel_bulk_queue(channel), [RoutingKey::Bulk(channel).render()])
}

/// The outbound queue of `channel`, bound to `<channel>.outbound`.
pub fn outbound_spec(channel: &str) -> QueueSpec {
    QueueSpec::new(
        channel_outbound_queue(channel),
        [RoutingKey::Outbound(channel).render()],
    )
}

fn hook_keys(name: &str, w: &crate::config::WebhookConfig) -> Vec<String> {
    let mut keys = Vec::new();
    if w.inbound.is_some() {
        keys.push(RoutingKey::Inbound(name).render());
    }
    if w.events.is_some() {
        keys.push(RoutingKey::Event(name).render());
    }
    keys
}

/// Declares the topology again whenever the channels change (a channel created through the
/// API gets its queues in every process), until `shutdown`.
pub async fn follow(
    bus: std::sync::Arc<dyn Bus>,
    config: std::sync::Arc<Config>,
    registry: Registry,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let mut watch = registry.watch();
    loop {
        tokio::select! {
            changed = watch.changed() => if changed.is_err() { return },
            () = shutdown.cancelled() => return,
        }
        let set = watch.borrow_and_update().clone();
        if let Err(e) = declare_for(bus.as_ref(), &config, &set).await {
            tracing::warn!(error = %e, "cannot declare the queues of changed channels; the bus declares them on reconnect");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::Registry;

    /// The SMPP server's events queue takes the events of the channels its accounts route to,
    /// not every channel's: each event it took of another channel was a journal row and a
    /// delivery its consumer dropped.
    #[test]
    fn the_smpp_server_hears_the_events_of_the_channels_its_accounts_route_to() {
        let mut config = Config::default();
        let mut second = config.smpp_server.accounts[0].clone();
        second.system_id = "other".into();
        config.smpp_server.accounts.push(second);
        let route = config.smpp_server.accounts[0].route.clone();
        assert!(
            config.channels.len() > 1,
            "the demo has channels no account routes to"
        );
        let specs = queues(&config, &Registry::new(&config).current());
        let events = specs
            .iter()
            .find(|s| s.name == SMPP_SERVER_EVENTS_QUEUE)
            .expect("the SMPP server's events queue");
        assert_eq!(events.bindings, vec![format!("{route}.event")]);
        let store = specs.iter().find(|s| s.name == STORE_QUEUE).unwrap();
        assert!(store.bindings.contains(&"*.event".to_string()));
    }
}
