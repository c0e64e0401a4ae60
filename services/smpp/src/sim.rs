//! The simulated carrier: a channel type that stands in for a real one in demos and tests.
//!
//! It takes each outbound message from its channel's queue, answers with an `ack` event (with
//! a carrier id), and after `sim_dlr_delay_ms` reports delivery (`delivered`, or `failed` for
//! `sim_failure_rate` of the messages, chosen from the message id so runs are repeatable).

use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::{DeliveryStatus, Event, EventKind, Message, RoutingKey};
use seedgate_runtime::bus::{Bus, BusError};
use seedgate_runtime::channels::{Live, Registry, Stop};
use seedgate_runtime::config::{ChannelType, Config};
use seedgate_runtime::monitor::{Health, Monitor};
use seedgate_runtime::telemetry::Masked;
use seedgate_runtime::worker::{decode, encode, HandleError};
use tokio_util::sync::CancellationToken;

/// Runs every simulated-carrier channel until `shutdown`, following the live channel set.
pub async fn run(
    config: Arc<Config>,
    registry: Registry,
    bus: Arc<dyn Bus>,
    monitor: Arc<Monitor>,
    shutdown: CancellationToken,
) -> Result<(), BusError> {
    let start = |live: Live, stop: Stop| {
        let (bus, monitor, prefetch) = (bus.clone(), monitor.clone(), config.bus.prefetch);
        async move {
            let name = live.name.clone();
            let sim = live.config.sim().cloned().unwrap_or_default();
            let delay = Duration::from_millis(sim.sim_dlr_delay_ms);
            let failure_rate = sim.sim_failure_rate;
            let sent = Arc::new(seedgate_runtime::dedupe::Recent::default());
            let handler_bus = bus.clone();
            let handler_monitor = monitor.clone();
            let handler = move |_key: String, payload: Vec<u8>| {
                let (bus, sent, monitor) = (handler_bus.clone(), sent.clone(), handler_monitor.clone());
                async move { carry(bus, &sent, &monitor, &payload, delay, failure_rate).await }
            };
            monitor.status(
                &name,
                Health::Ok,
                vec!["simulated carrier: every message is acknowledged".into()],
            );
            let result = seedgate_runtime::worker::consume_channel(
                "simulated-carrier",
                bus,
                &name,
                prefetch,
                stop,
                handler,
            )
            .await;
            monitor.forget(&name);
            result
        }
    };
    seedgate_runtime::channels::supervise(
        "simulated-carrier",
        registry,
        |c| c.channel_type() == ChannelType::SimulatedCarrier,
        start,
        shutdown,
    )
    .await
}

async fn carry(
    bus: Arc<dyn Bus>,
    sent: &seedgate_runtime::dedupe::Recent,
    monitor: &Monitor,
    payload: &[u8],
    delay: Duration,
    failure_rate: f64,
) -> Result<(), HandleError> {
    let msg: Message = decode(payload)?;
    if sent.contains(msg.id) {
        tracing::info!(channel = %msg.channel, id = %msg.id, "message already carried; dropping the redelivery");
        metrics::counter!("seedgate_connector_duplicates_dropped_total", "channel" => msg.channel.clone())
            .increment(1);
        return Ok(());
    }
    if let Some(at) = msg.expires_at().filter(|at| *at <= chrono::Utc::now()) {
        let reason = format!("expired at {at} before it could be sent");
        let expired = Event::new(msg.channel.clone(), msg.id, EventKind::Expired { reason });
        bus.publish(&RoutingKey::Event(&msg.channel).render(), &encode(&expired)?)
            .await?;
        return Ok(());
    }
    let carrier_id = format!("sim{:x}", msg.id.as_u128() as u64);
    let ack = Event::new(
        msg.channel.clone(),
        msg.id,
        EventKind::Ack {
            carrier_id: Some(carrier_id.clone()),
        },
    );
    let key = RoutingKey::Event(&msg.channel).render();
    bus.publish(&key, &encode(&ack)?).await?;
    sent.insert(msg.id);
    monitor.log(
        &msg.channel,
        "out",
        format!(
            "submit id={} to={} chars={} -> ack {carrier_id}",
            msg.id,
            Masked(&msg.to),
            msg.content.chars().count()
        ),
    );
    let fails = (msg.id.as_u128() & 0xFFFF) as f64 / 65536.0 < failure_rate;
    let status = if fails {
        DeliveryStatus::Failed
    } else {
        DeliveryStatus::Delivered
    };
    let report = Event::new(msg.channel.clone(), msg.id, EventKind::DeliveryReport { status });
    let report = encode(&report)?;
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        // A carrier keeps a report until it is taken: retried until the bus takes it. (It is
        // the carrier's memory: a kill -9 of the process loses the reports it still owed, as
        // an SMSC that crashes does.)
        let mut pause = Duration::from_millis(100);
        while let Err(e) = bus.publish(&key, &report).await {
            tracing::warn!(error = %e, retry_in_ms = pause.as_millis() as u64, "simulated carrier cannot publish a delivery report yet");
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(10));
        }
    });
    metrics::counter!("seedgate_sim_messages_total", "outcome" => if fails { "failed" } else { "delivered" })
        .increment(1);
    Ok(())
}
