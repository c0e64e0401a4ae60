//! The RabbitMQ bus at the broker's limits, on the real broker of this machine
//! (`SEEDGATE_TEST_AMQP_URL`, default guest@127.0.0.1:5672): queues are quorum queues unless
//! configured classic, and a broker that blocks or stops confirming publishes makes them fail
//! promptly as temporary errors, never hang. Blocking is simulated by a proxy that injects
//! `connection.blocked` into one connection, so these tests never raise an alarm on the shared
//! broker (`rabbitmq_memory_alarm.rs` does, in its own binary).

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use seedgate_runtime::bus::rabbitmq::RabbitBus;
use seedgate_runtime::bus::{Bus, BusError, QueueSpec};
use seedgate_runtime::config::{BusConfig, BusKind, QueueType};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

const BROKER: &str = "127.0.0.1:5672";

fn amqp_url() -> String {
    std::env::var("SEEDGATE_TEST_AMQP_URL").unwrap_or_else(|_| format!("amqp://guest:guest@{BROKER}/%2f"))
}

fn config(url: String, prefix: &str) -> BusConfig {
    let mut cfg = BusConfig::default();
    cfg.kind = BusKind::Rabbitmq;
    cfg.url = url;
    cfg.exchange = "seedgate-test".into();
    cfg.queue_prefix = prefix.to_string();
    cfg.queue_expires_ms = Some(60_000);
    cfg
}

fn unique(tag: &str) -> String {
    format!("{tag}{}", uuid::Uuid::now_v7().simple())
}

#[tokio::test]
async fn queues_are_quorum_queues_unless_configured_classic() {
    let prefix = format!("{}.", unique("t"));
    let w = unique("c");
    let quorum = RabbitBus::new(config(amqp_url(), &prefix));
    assert_eq!(BusConfig::default().queue_type, QueueType::Quorum);
    quorum
        .declare(&QueueSpec::new("q", [format!("{w}.inbound")]).max_length(5))
        .await
        .unwrap();

    // The broker holds the queue as a quorum queue: declaring it classic is refused, and the
    // error names the key to change. (A declare fails the connection it was made on, which
    // is retried: the error is `Unavailable` or `Protocol`, and its text says why.)
    let classic = || {
        let mut cfg = config(amqp_url(), &prefix);
        cfg.queue_type = QueueType::Classic;
        RabbitBus::new(cfg)
    };
    let err = classic()
        .declare(&QueueSpec::new("q", [format!("{w}.inbound")]).max_length(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("PRECONDITION_FAILED")
            && err.contains("'x-queue-type'")
            && err.contains("bus.queue_type"),
        "{err}"
    );
    // A classic queue stays classic: a quorum declare of it is refused.
    classic()
        .declare(&QueueSpec::new("old", [format!("{w}.outbound")]))
        .await
        .unwrap();
    let err = RabbitBus::new(config(amqp_url(), &prefix))
        .declare(&QueueSpec::new("old", [format!("{w}.outbound")]))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("received 'quorum' but current is 'classic'"),
        "{err}"
    );
    // A queue an older seedgate declared (no x-queue-type) is taken as classic.
    let conn = lapin::Connection::connect(&amqp_url(), Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    let mut args = lapin::types::FieldTable::default();
    args.insert("x-expires".into(), lapin::types::AMQPValue::LongUInt(60_000));
    let opts = lapin::options::QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    ch.queue_declare(&format!("{prefix}legacy"), opts, args)
        .await
        .unwrap();
    conn.close(200, "bye").await.unwrap();
    classic()
        .declare(&QueueSpec::new("legacy", [format!("{w}.event")]))
        .await
        .unwrap();

    // A quorum queue keeps the bus's semantics: confirmed publishes, and reject-publish at
    // the limit (a quorum queue learns it is full from the enqueue that filled it, so it can
    // take one message over the limit before refusing; nothing confirmed is lost either way).
    let mut accepted = 0u8;
    let refused = loop {
        match quorum.publish(&format!("{w}.inbound"), &[accepted]).await {
            Ok(()) => accepted += 1,
            Err(e) => break e,
        }
        assert!(accepted <= 6, "a queue of 5 took {accepted}");
    };
    assert!(matches!(refused, BusError::Rejected(_)), "{refused:?}");
    assert!(accepted >= 5, "refused at {accepted}");
    eprintln!("a quorum queue of max 5 took {accepted}");
    let mut sub = quorum.consume("q", 10).await.unwrap();
    for i in 0..accepted {
        let d = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(d.payload, [i]);
        d.ack().await.unwrap();
    }
}

/// A TCP forwarder to the broker that can, per connection (in the order they were made),
/// inject `connection.blocked` / `connection.unblocked` between the broker's frames, or stop
/// forwarding the broker's frames altogether.
struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<mpsc::UnboundedSender<Control>>>>,
}

#[derive(Debug, Clone, Copy)]
enum Control {
    Block,
    Unblock,
    Stall,
}

/// An AMQP 0-9-1 method frame on channel 0 of class `connection` (10).
fn connection_frame(method: u16, args: &[u8]) -> Vec<u8> {
    let mut payload = vec![0, 10];
    payload.extend_from_slice(&method.to_be_bytes());
    payload.extend_from_slice(args);
    let mut frame = vec![1, 0, 0];
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(&payload);
    frame.push(0xCE);
    frame
}

impl Proxy {
    async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = Arc::new(Mutex::new(Vec::new()));
        let registry = conns.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (tx, rx) = mpsc::unbounded_channel();
                registry.lock().unwrap().push(tx);
                tokio::spawn(forward(client, rx));
            }
        });
        Self { port, conns }
    }

    fn url(&self) -> String {
        format!("amqp://guest:guest@127.0.0.1:{}/%2f", self.port)
    }

    fn send(&self, conn: usize, control: Control) {
        self.conns.lock().unwrap()[conn].send(control).unwrap();
    }
}

async fn forward(client: TcpStream, mut control: mpsc::UnboundedReceiver<Control>) {
    let Ok(broker) = TcpStream::connect(BROKER).await else {
        return;
    };
    let (mut client_rd, mut client_wr) = client.into_split();
    let (mut broker_rd, mut broker_wr) = broker.into_split();
    tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_rd, &mut broker_wr).await;
    });
    // Broker → client, whole frames at a time, so an injected frame lands between two.
    let mut buf = Vec::new();
    let mut stalled = false;
    loop {
        let mut chunk = [0u8; 8192];
        tokio::select! {
            n = broker_rd.read(&mut chunk), if !stalled => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            },
            c = control.recv() => match c {
                Some(Control::Block) => {
                    let text = b"low on memory";
                    let mut reason = vec![text.len() as u8];
                    reason.extend_from_slice(text);
                    if client_wr.write_all(&connection_frame(60, &reason)).await.is_err() { return; }
                }
                Some(Control::Unblock) => {
                    if client_wr.write_all(&connection_frame(61, &[])).await.is_err() { return; }
                }
                Some(Control::Stall) => stalled = true,
                None => return,
            },
        }
        while buf.len() >= 7 {
            let size = u32::from_be_bytes([buf[3], buf[4], buf[5], buf[6]]) as usize;
            if buf.len() < 8 + size {
                break;
            }
            let frame: Vec<u8> = buf.drain(..8 + size).collect();
            if client_wr.write_all(&frame).await.is_err() {
                return;
            }
        }
    }
}

#[tokio::test]
async fn a_blocked_connection_refuses_publishes_at_once_and_consumers_keep_acking() {
    let proxy = Proxy::start().await;
    let bus = RabbitBus::new(config(proxy.url(), &format!("{}.", unique("t"))));
    let w = unique("c");
    bus.declare(&QueueSpec::new("q", [format!("{w}.inbound")]))
        .await
        .unwrap();
    let mut sub = bus.consume("q", 10).await.unwrap();
    bus.publish(&format!("{w}.inbound"), b"1").await.unwrap();
    let d = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();

    // Connection 0 publishes (it was made first), connection 1 consumes.
    proxy.send(0, Control::Block);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let err = bus.publish(&format!("{w}.inbound"), b"2").await.unwrap_err();
    assert!(
        matches!(&err, BusError::Rejected(m) if m.contains("alarm")),
        "{err:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    // The consumer's own connection is not blocked: its ack goes out, so queues can drain.
    tokio::time::timeout(Duration::from_secs(2), d.ack())
        .await
        .expect("an ack while the publishing connection is blocked")
        .unwrap();

    proxy.send(0, Control::Unblock);
    tokio::time::sleep(Duration::from_millis(200)).await;
    bus.publish(&format!("{w}.inbound"), b"3").await.unwrap();
    let d = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.payload, b"3");
    d.ack().await.unwrap();
}

#[tokio::test]
async fn a_publish_the_broker_never_confirms_fails_within_the_timeout() {
    let proxy = Proxy::start().await;
    let mut cfg = config(proxy.url(), &format!("{}.", unique("t")));
    cfg.publish_timeout_ms = 500;
    let bus = RabbitBus::new(cfg);
    let w = unique("c");
    bus.declare(&QueueSpec::new("q", [format!("{w}.inbound")]))
        .await
        .unwrap();
    bus.publish(&format!("{w}.inbound"), b"1").await.unwrap();

    proxy.send(0, Control::Stall);
    let started = Instant::now();
    let err = bus.publish(&format!("{w}.inbound"), b"2").await.unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(&err, BusError::Unavailable(m) if m.contains("confirm")),
        "{err:?}"
    );
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(2),
        "{took:?}"
    );
}
