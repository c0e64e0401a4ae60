//! SMPP over TLS: our ESME binds to our server's TLS listener, verifying its certificate.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::Arc;
use std::time::Duration;

use seedgate_proto::{Event, EventKind, Message, TransportType};
use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::{Bus, QueueSpec};
use seedgate_runtime::config::{Config, SmppTlsConfig};
use seedgate_runtime::session_store::memory::MemorySessionStore;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

fn write_cert(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

#[tokio::test]
async fn an_esme_binds_over_tls_and_submits_and_plaintext_gets_nowhere() {
    let dir = std::env::temp_dir().join(format!("smpp-tls-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = write_cert(&dir);
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    // The server side: the demo account, plain listener on port 0, TLS on tls_port.
    let mut server_cfg = Config::default();
    server_cfg.smpp_server.tls = Some(SmppTlsConfig {
        listen: format!("127.0.0.1:{tls_port}"),
        cert_file: cert.clone(),
        key_file: key,
    });
    let server_cfg = Arc::new(server_cfg);
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    seedgate_runtime::topology::declare(bus.as_ref(), &server_cfg)
        .await
        .unwrap();
    let stop = CancellationToken::new();
    let _guard = stop.clone().drop_guard();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tls = seedgate_smpp::server::bind_tls(&server_cfg).await.unwrap();
    assert!(tls.is_some());
    let server = seedgate_smpp::server::Server::new(server_cfg, bus.clone()).unwrap();
    tokio::spawn(seedgate_smpp::server::run(server, listener, tls, stop.clone()));

    // A plaintext bind on the TLS port fails (no bind_resp), and does not hurt the server.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", tls_port))
        .await
        .unwrap();
    let bind = seedgate_smpp::Frame::new(
        1,
        seedgate_smpp::Pdu::BindTransceiver(seedgate_smpp::pdu::Bind {
            system_id: "demo".into(),
            password: "demo".into(),
            ..Default::default()
        }),
    );
    plain.write_all(&bind.to_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), plain.read(&mut buf))
        .await
        .unwrap()
        .unwrap_or(0);
    assert!(
        n == 0 || buf[..n].first() == Some(&0x15),
        "a TLS alert or a close, never an SMPP answer: {:?}",
        &buf[..n]
    );

    // The client side: an smpp-esme channel with TLS, trusting the self-signed cert.
    let text = format!(
        "[channels.carrier]\ntype = \"smpp-esme\"\n[channels.carrier.smpp]\naddress = \"127.0.0.1:{tls_port}\"\n\
         system_id = \"demo\"\npassword = \"demo\"\ntls = true\ntls_ca_file = \"{}\"\ntls_server_name = \"localhost\"\n\
         registered_delivery = false\n[smpp_server]\nenabled = false\n",
        cert.display()
    );
    std::fs::write(dir.join("esme.toml"), text).unwrap();
    let esme_cfg =
        Arc::new(Config::load(Some(&dir.join("esme.toml")), Vec::<(String, String)>::new()).unwrap());
    seedgate_runtime::topology::declare(bus.as_ref(), &esme_cfg)
        .await
        .unwrap();
    bus.declare(&QueueSpec::new("t.events", ["carrier.event"]))
        .await
        .unwrap();
    let mut events = bus.consume("t.events", 10).await.unwrap();
    let mut delivered = bus
        .consume(
            &seedgate_runtime::topology::channel_outbound_queue("demo-sms"),
            10,
        )
        .await
        .unwrap();
    tokio::spawn(seedgate_smpp::esme::run(
        esme_cfg.clone(),
        seedgate_runtime::channels::Registry::new(&esme_cfg),
        bus.clone(),
        Arc::new(MemorySessionStore::new()),
        sqlite_store(),
        seedgate_runtime::monitor::Monitor::new(),
        stop.clone(),
    ));

    let mut msg = Message::inbound(
        "carrier",
        TransportType::Sms,
        "MomConnect",
        "27820000001",
        "over TLS",
    );
    msg.direction = seedgate_proto::Direction::Outbound;
    bus.publish("carrier.outbound", &serde_json::to_vec(&msg).unwrap())
        .await
        .unwrap();

    let d = tokio::time::timeout(Duration::from_secs(15), events.next())
        .await
        .expect("an event")
        .unwrap();
    let e: Event = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(e.message_id, msg.id);
    let EventKind::Ack { carrier_id: Some(id) } = e.kind else {
        panic!("{e:?}")
    };
    let d = tokio::time::timeout(Duration::from_secs(5), delivered.next())
        .await
        .unwrap()
        .unwrap();
    let got: Message = serde_json::from_slice(&d.payload).unwrap();
    assert_eq!(
        (got.id.to_string(), got.content.as_str()),
        (id, "over TLS"),
        "the server took it over the TLS bind"
    );
}

/// A fresh SQLite store (carrier ids and held receipts live there).
fn sqlite_store() -> Arc<dyn seedgate_runtime::store::Store> {
    let dir = std::env::temp_dir().join(format!("seedgate-esme-{}", uuid::Uuid::now_v7().simple()));
    let mut cfg = seedgate_runtime::config::StoreConfig::default();
    cfg.url = format!("sqlite://{}/seedgate.db", dir.display());
    seedgate_store::open(&cfg).unwrap()
}
