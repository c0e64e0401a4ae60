//! The standard queues and their bindings, declared by every process at start.
//!
//! Declaring the whole topology everywhere means a message published before its consumer
//! first starts waits in a durable queue instead of being unroutable.

use seedgate_proto::RoutingKey;

use crate::bus::{Bus, BusError, QueueSpec};
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

/// Every queue of a deployment configured by `config`.
pub fn queues(config: &Config) -> Vec<QueueSpec> {
    let mut specs = vec![
        QueueSpec::new(STORE_QUEUE, ["*.inbound", "*.outbound", "*.event", "*.session"]),
        QueueSpec::new(SESSIONS_QUEUE, ["*.inbound", "*.app.outbound"]),
        QueueSpec::new(FLOWS_QUEUE, ["*.app.inbound"]),
    ];
    if config.smpp_server.enabled {
        specs.push(QueueSpec::new(SMPP_SERVER_EVENTS_QUEUE, ["*.event"]));
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
    let hooked: Vec<String> = config
        .channels
        .iter()
        .filter_map(|(name, c)| c.webhooks.as_ref().map(|w| (name, w)))
        .flat_map(|(name, w)| {
            let mut keys = Vec::new();
            if w.inbound.is_some() {
                keys.push(RoutingKey::Inbound(name).render());
            }
            if w.events.is_some() {
                keys.push(RoutingKey::Event(name).render());
            }
            keys
        })
        .collect();
    if config.api.enabled && !hooked.is_empty() {
        specs.push(QueueSpec::new(WEBHOOKS_QUEUE, hooked));
    }
    for channel in config.channels.keys() {
        specs.push(QueueSpec::new(
            channel_outbound_queue(channel),
            [RoutingKey::Outbound(channel).render()],
        ));
    }
    specs
}

/// Declares every queue of the deployment (idempotent).
pub async fn declare(bus: &dyn Bus, config: &Config) -> Result<(), BusError> {
    for spec in queues(config) {
        bus.declare(&spec).await?;
    }
    Ok(())
}
