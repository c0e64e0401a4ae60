//! Sessions keyed by MSISDN and dialog (`session_key = "msisdn"`), through the router: a
//! gateway whose ids change mid-session still makes one session, a start sent twice makes one
//! session, and the next dial after the end makes a new one.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use seedgate_proto::{Message, SessionEvent};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, Subscription};
use seedgate_runtime::config::{AggregatorOptions, ChannelKind, Config, SessionKey};
use seedgate_runtime::session_store::memory::MemorySessionStore;
use tower::ServiceExt;

struct Gw {
    bus: Arc<dyn Bus>,
    app: axum::Router,
    inbound: Subscription,
}

async fn setup() -> Gw {
    let mut config = Config::default();
    let ch = config.channels.get_mut("demo-at").unwrap();
    ch.kind = ChannelKind::HubtelUssd(AggregatorOptions {
        session_key: Some(SessionKey::Msisdn),
    });
    let config = Arc::new(config);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &config)
        .await
        .unwrap();
    let channels = seedgate_http_channels::Channels::new(
        config.clone(),
        seedgate_runtime::channels::Registry::new(&config),
        bus.clone(),
        Some(Arc::new(MemorySessionStore::new())),
        seedgate_runtime::monitor::Monitor::new(),
    );
    tokio::spawn(seedgate_http_channels::run(
        channels.clone(),
        tokio_util::sync::CancellationToken::new(),
    ));
    let inbound = bus
        .consume(seedgate_runtime::topology::SESSIONS_QUEUE, 10)
        .await
        .unwrap();
    Gw {
        bus,
        app: seedgate_http_channels::app(channels),
        inbound,
    }
}

impl Gw {
    /// One Hubtel request with gateway id `gateway`; the flow answers `answer`. Returns the
    /// message as published (with the session id the rest of seedgate sees).
    async fn hop(&mut self, gateway: &str, kind: &str, input: &str, answer: Option<(&str, bool)>) -> Message {
        let body = serde_json::json!({
            "Mobile": "233244000777", "SessionId": gateway, "ServiceCode": "711",
            "Type": kind, "Message": input, "Operator": "MTN", "Sequence": 1
        });
        let req = Request::post("/channels/demo-at/callback")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let call = tokio::spawn(self.app.clone().oneshot(req));
        let d = tokio::time::timeout(Duration::from_secs(5), self.inbound.next())
            .await
            .unwrap()
            .unwrap();
        let msg: Message = serde_json::from_slice(&d.payload).unwrap();
        d.ack().await.unwrap();
        if let Some((text, close)) = answer {
            let event = if close {
                SessionEvent::Close
            } else {
                SessionEvent::Resume
            };
            let reply = msg.reply(text, event);
            self.bus
                .publish("demo-at.outbound", &serde_json::to_vec(&reply).unwrap())
                .await
                .unwrap();
        }
        let resp = call.await.unwrap().unwrap();
        assert_eq!(resp.status(), 200);
        msg
    }
}

#[tokio::test]
async fn changing_gateway_ids_and_repeated_starts_make_one_session() {
    let mut gw = setup().await;
    let dial = gw
        .hop("h1", "Initiation", "*711#", Some(("Welcome", false)))
        .await;
    let id = dial.session_id().unwrap().to_string();
    assert!(id.starts_with("demo-at:h1~"), "{id}");
    assert_eq!(dial.metadata["gateway_session_id"], "demo-at:h1");

    let repeat = gw
        .hop("h1", "Initiation", "*711#", Some(("Welcome", false)))
        .await;
    assert_eq!(
        repeat.session_id(),
        Some(id.as_str()),
        "the start sent twice is one session"
    );
    assert_eq!(repeat.session_event(), Some(SessionEvent::New));

    let next = gw.hop("h2", "Response", "1", Some(("Bye", true))).await;
    assert_eq!(
        next.session_id(),
        Some(id.as_str()),
        "the gateway's new id joins the dialog"
    );
    assert_eq!(next.metadata["gateway_session_id"], "demo-at:h2");

    // The session ended with that reply: the next dial is a new session, same gateway id or not.
    let again = gw
        .hop("h1", "Initiation", "*711#", Some(("Welcome", false)))
        .await;
    let id2 = again.session_id().unwrap().to_string();
    assert_ne!(id2, id);
    // A start after an answer is a new dial, not a repeat.
    gw.hop("h3", "Response", "1", Some(("Menu", false))).await;
    let third = gw
        .hop("h1", "Initiation", "*711#", Some(("Welcome", false)))
        .await;
    assert_ne!(third.session_id(), Some(id2.as_str()));
    // The gateway reports the end: the Close carries the dialog's id and ends it.
    let end = gw.hop("h9", "Release", "", None).await;
    assert_eq!(end.session_id(), third.session_id());
    assert_eq!(end.session_event(), Some(SessionEvent::Close));
    let after = gw.hop("h9", "Response", "1", Some(("x", true))).await;
    assert_eq!(
        after.session_id(),
        Some("demo-at:h9"),
        "no open dialog: the engine will answer with its closing text"
    );
}
