//! The SMPP server against our own link as a client: binds, refusals, probes, durability.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::rabbitmq::RabbitBus;
use seedgate_runtime::bus::Bus;
use seedgate_runtime::config::{BusConfig, BusKind, Config};
use seedgate_smpp::link::{Closed, Incoming, Link, LinkConfig};
use seedgate_smpp::pdu::{Address, Bind, Sm};
use seedgate_smpp::{CommandStatus, Frame, Pdu};
use tokio::io::AsyncWriteExt;
use tokio_util::sync::CancellationToken;

struct Running {
    addr: SocketAddr,
    bus: Arc<dyn Bus>,
    _stop: tokio_util::sync::DropGuard,
}

async fn start(tweak: impl FnOnce(&mut Config), bus: Option<Arc<dyn Bus>>) -> Running {
    let mut config = Config::default();
    config.smpp_server.unbound_timeout_secs = 1;
    tweak(&mut config);
    let config = Arc::new(config);
    let bus: Arc<dyn Bus> = bus.unwrap_or_else(|| Arc::new(MemoryBus::new()));
    let _ = seedgate_runtime::topology::declare(bus.as_ref(), &config).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = seedgate_smpp::server::Server::new(config, bus.clone()).unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(seedgate_smpp::server::run(server, listener, None, stop.clone()));
    Running {
        addr,
        bus,
        _stop: stop.drop_guard(),
    }
}

async fn connect(addr: SocketAddr) -> (Link, Incoming) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    Link::spawn(
        stream,
        LinkConfig {
            response_timeout: Duration::from_secs(5),
            ..LinkConfig::default()
        },
    )
}

fn bind(system_id: &str, password: &str) -> Bind {
    Bind {
        system_id: system_id.into(),
        password: password.into(),
        interface_version: 0x34,
        ..Default::default()
    }
}

fn submit(to: &str, text: &str) -> Pdu {
    Pdu::SubmitSm(Sm {
        source: Address::new(5, 0, "MomConnect"),
        dest: Address::new(1, 1, to),
        registered_delivery: 1,
        short_message: Bytes::from(text.as_bytes().to_vec()),
        ..Default::default()
    })
}

async fn bound(addr: SocketAddr) -> (Link, Incoming) {
    let (link, incoming) = connect(addr).await;
    let resp = link
        .request(Pdu::BindTransceiver(bind("demo", "demo")))
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    (link, incoming)
}

#[tokio::test]
async fn a_good_bind_submits_and_unbinds_cleanly() {
    let s = start(|_| {}, None).await;
    let mut out = s
        .bus
        .consume(
            &seedgate_runtime::topology::channel_outbound_queue("demo-sms"),
            10,
        )
        .await
        .unwrap();
    let (link, incoming) = bound(s.addr).await;
    let resp = link.request(submit("27820000001", "Hello")).await.unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_ROK);
    let Pdu::SubmitSmResp(r) = resp.pdu else { panic!() };
    let d = out.next().await.unwrap();
    let msg: seedgate_proto::Message = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(
        (msg.id.to_string(), msg.to.as_str(), msg.content.as_str()),
        (r.message_id, "+27820000001", "Hello"),
        "stored as E.164 whatever form the ESME wrote it in"
    );
    assert_eq!(msg.direction, seedgate_proto::Direction::Outbound);
    let resp = link.request(Pdu::Unbind).await.unwrap();
    assert_eq!(resp.pdu, Pdu::UnbindResp);
    assert_eq!(incoming.closed.await.unwrap(), Closed::PeerClosed);
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_the_right_status_then_closed() {
    let s = start(|_| {}, None).await;
    for (id, pw, status) in [
        ("demo", "guess", CommandStatus::ESME_RINVPASWD),
        ("ghost", "demo", CommandStatus::ESME_RINVSYSID),
    ] {
        let (link, incoming) = connect(s.addr).await;
        let started = Instant::now();
        let resp = link.request(Pdu::BindTransmitter(bind(id, pw))).await.unwrap();
        assert_eq!(resp.status, status);
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "refusals are slowed down"
        );
        assert!(matches!(resp.pdu, Pdu::BindTransmitterResp(_)));
        assert_eq!(incoming.closed.await.unwrap(), Closed::PeerClosed);
    }
}

#[tokio::test]
async fn a_bind_flood_of_wrong_passwords_does_not_lock_out_the_right_one() {
    let s = start(|_| {}, None).await;
    let flood: Vec<_> = (0..20)
        .map(|i| {
            let addr = s.addr;
            tokio::spawn(async move {
                let (link, _) = connect(addr).await;
                link.request(Pdu::BindTransceiver(bind("demo", &format!("guess{i}"))))
                    .await
                    .unwrap()
                    .status
            })
        })
        .collect();
    let (link, _incoming) = bound(s.addr).await;
    assert_eq!(
        link.request(submit("27820000009", "still works"))
            .await
            .unwrap()
            .status,
        CommandStatus::ESME_ROK
    );
    for f in flood {
        assert_eq!(f.await.unwrap(), CommandStatus::ESME_RINVPASWD);
    }
}

#[tokio::test]
async fn commands_before_bind_are_refused_and_unbound_connections_time_out() {
    let s = start(|_| {}, None).await;
    let (link, incoming) = connect(s.addr).await;
    let resp = link.request(submit("27820000001", "too early")).await.unwrap();
    assert_eq!(
        (resp.status, matches!(resp.pdu, Pdu::SubmitSmResp(_))),
        (CommandStatus::ESME_RINVBNDSTS, true)
    );
    let started = Instant::now();
    assert_eq!(incoming.closed.await.unwrap(), Closed::PeerClosed);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "closed after the 1 s unbound timeout"
    );
}

#[tokio::test]
async fn a_malformed_submit_gets_an_error_and_the_bind_keeps_working() {
    let s = start(|_| {}, None).await;
    let stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let mut bind_pdu = Frame::new(1, Pdu::BindTransceiver(bind("demo", "demo")))
        .to_bytes()
        .to_vec();
    // A submit_sm whose sm_length points past the end of the PDU.
    let mut bad = Frame::new(2, submit("27820000001", "x")).to_bytes().to_vec();
    let n = bad.len();
    bad[n - 2] = 50;
    let good = Frame::new(3, submit("27820000001", "fine")).to_bytes().to_vec();
    bind_pdu.extend(bad);
    bind_pdu.extend(good);
    write.write_all(&bind_pdu).await.unwrap();
    let mut framed = tokio_util::codec::FramedRead::new(&mut read, seedgate_smpp::SmppCodec::default());
    use futures::StreamExt;
    let mut seen = Vec::new();
    while seen.len() < 3 {
        let f = tokio::time::timeout(Duration::from_secs(5), framed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push((f.sequence, f.status));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            (1, CommandStatus::ESME_ROK),
            (2, CommandStatus::ESME_RINVMSGLEN),
            (3, CommandStatus::ESME_ROK)
        ]
    );
}

#[tokio::test]
async fn bind_limits_modes_and_throttling_are_enforced() {
    let s = start(
        |c| {
            c.smpp_server.accounts[0].max_binds = 2;
            c.smpp_server.accounts[0].tps = 3;
        },
        None,
    )
    .await;
    let (rx, _i1) = connect(s.addr).await;
    assert_eq!(
        rx.request(Pdu::BindReceiver(bind("demo", "demo")))
            .await
            .unwrap()
            .status,
        CommandStatus::ESME_ROK
    );
    let resp = rx
        .request(submit("27820000001", "from a receiver"))
        .await
        .unwrap();
    assert_eq!(
        resp.status,
        CommandStatus::ESME_RINVBNDSTS,
        "receivers do not submit"
    );
    assert_eq!(
        rx.request(Pdu::BindReceiver(bind("demo", "demo")))
            .await
            .unwrap()
            .status,
        CommandStatus::ESME_RALYBND
    );
    let (tx, _i2) = bound(s.addr).await;
    let (third, _i3) = connect(s.addr).await;
    assert_eq!(
        third
            .request(Pdu::BindTransmitter(bind("demo", "demo")))
            .await
            .unwrap()
            .status,
        CommandStatus::ESME_RBINDFAIL,
        "the account allows 2 binds"
    );
    let mut statuses = Vec::new();
    for i in 0..6 {
        statuses.push(
            tx.request(submit("27820000001", &format!("m{i}")))
                .await
                .unwrap()
                .status,
        );
    }
    let throttled = statuses
        .iter()
        .filter(|s| **s == CommandStatus::ESME_RTHROTTLED)
        .count();
    assert!((2..=3).contains(&throttled), "3 tps: {statuses:?}");
}

#[tokio::test]
async fn a_submit_that_is_not_durable_gets_a_temporary_error_not_rok() {
    let mut cfg = BusConfig::default();
    cfg.kind = BusKind::Rabbitmq;
    cfg.url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    let s = start(|_| {}, Some(Arc::new(RabbitBus::new(cfg)))).await;
    let (link, _incoming) = bound(s.addr).await;
    let resp = link
        .request(submit("27820000001", "nowhere to go"))
        .await
        .unwrap();
    assert_eq!(resp.status, CommandStatus::ESME_RSYSERR);
    assert!(resp.status.is_temporary(), "the ESME will retry");
}

#[tokio::test]
async fn a_slow_drip_that_never_completes_a_pdu_is_closed_at_the_unbound_timeout() {
    let s = start(|_| {}, None).await;
    let mut stream = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let bind = Frame::new(1, Pdu::BindTransceiver(bind("demo", "demo"))).to_bytes();
    // Half a bind, one byte at a time, then silence.
    for b in &bind[..bind.len() / 2] {
        stream.write_all(&[*b]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let n = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read(&mut stream, &mut buf),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(n, 0, "the server closed the connection");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn mo_on_an_accounts_channels_reaches_its_receiving_bind() {
    let s = start(
        |c| c.smpp_server.accounts[0].mo_channels = vec!["demo-sms".into()],
        None,
    )
    .await;
    let (link, mut incoming) = bound(s.addr).await;
    let mut mo = seedgate_proto::Message::inbound(
        "demo-sms",
        seedgate_proto::TransportType::Sms,
        "+27820000001",
        "12345",
        "Ngiyabonga 👶🏽 STOP",
    );
    mo.metadata.insert("note".into(), "from the carrier".into());
    s.bus
        .publish("demo-sms.inbound", &serde_json::to_vec(&mo).unwrap())
        .await
        .unwrap();
    let req = tokio::time::timeout(Duration::from_secs(5), incoming.requests.recv())
        .await
        .unwrap()
        .unwrap();
    let Pdu::DeliverSm(sm) = &req.pdu else {
        panic!("{req:?}")
    };
    assert_eq!(
        (sm.source.addr.as_str(), sm.dest.addr.as_str()),
        ("27820000001", "12345")
    );
    assert_eq!(
        seedgate_smpp::text::decode(sm.data_coding, sm.payload()),
        "Ngiyabonga 👶🏽 STOP"
    );
    link.respond(Frame::response(
        req.sequence,
        CommandStatus::ESME_ROK,
        Pdu::DeliverSmResp(Default::default()),
    ))
    .await
    .unwrap();
}

#[tokio::test]
async fn a_ussd_gateway_bound_to_us_runs_dialogs_answered_with_deliver_sm() {
    use seedgate_smpp::tlv::{tag, Tlvs};
    let s = start(
        |c| {
            c.channels.insert(
                "gw-ussd".into(),
                serde_json::from_value(serde_json::json!({"type": "smpp-server-ussd", "flow": "demo"}))
                    .unwrap(),
            );
            c.smpp_server.accounts[0].ussd_channel = Some("gw-ussd".into());
            c.smpp_server.accounts[0].tps = 0;
        },
        None,
    )
    .await;
    s.bus
        .declare(&seedgate_runtime::bus::QueueSpec::new(
            "t.ussd",
            ["gw-ussd.inbound"],
        ))
        .await
        .unwrap();
    s.bus
        .declare(&seedgate_runtime::bus::QueueSpec::new(
            "t.events",
            ["gw-ussd.event"],
        ))
        .await
        .unwrap();
    let mut inbound = s.bus.consume("t.ussd", 10).await.unwrap();
    let mut events = s.bus.consume("t.events", 10).await.unwrap();
    let (gw, mut incoming) = bound(s.addr).await;

    let dial = Pdu::SubmitSm(Sm {
        service_type: "USSD".into(),
        source: Address::new(1, 1, "27820000001"),
        dest: Address::new(0, 1, "550"),
        short_message: Bytes::from_static(b"*134*550#"),
        tlvs: Tlvs::default()
            .with(tag::USSD_SERVICE_OP, vec![1u8])
            .with(tag::ITS_SESSION_INFO, vec![4u8, 0]),
        ..Default::default()
    });
    assert_eq!(gw.request(dial).await.unwrap().status, CommandStatus::ESME_ROK);
    let d = inbound.next().await.unwrap();
    let new: seedgate_proto::Message = serde_json::from_slice(&d.payload).unwrap();
    d.ack().await.unwrap();
    assert_eq!(
        (new.session_event(), new.to.as_str(), new.session_id()),
        (
            Some(seedgate_proto::SessionEvent::New),
            "*134*550#",
            Some("gw-ussd:27820000001/4")
        )
    );

    // The session engine's reply goes back to the gateway as deliver_sm on its bind.
    let reply = new.reply("Welcome\n1. Register", seedgate_proto::SessionEvent::Resume);
    s.bus
        .publish("gw-ussd.outbound", &serde_json::to_vec(&reply).unwrap())
        .await
        .unwrap();
    let req = tokio::time::timeout(Duration::from_secs(5), incoming.requests.recv())
        .await
        .unwrap()
        .unwrap();
    let Pdu::DeliverSm(sm) = &req.pdu else {
        panic!("{req:?}")
    };
    assert_eq!(
        (sm.tlvs.ussd_service_op(), sm.tlvs.its_session_info()),
        (Some(2), Some((4, false)))
    );
    assert_eq!(
        (sm.dest.addr.as_str(), sm.short_message.as_ref()),
        ("27820000001", &b"Welcome\n1. Register"[..])
    );
    gw.respond(Frame::response(
        req.sequence,
        CommandStatus::ESME_ROK,
        Pdu::DeliverSmResp(Default::default()),
    ))
    .await
    .unwrap();
    let d = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap();
    let e: seedgate_proto::Event = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(
        (e.message_id, e.kind),
        (reply.id, seedgate_proto::EventKind::Ack { carrier_id: None })
    );
}
