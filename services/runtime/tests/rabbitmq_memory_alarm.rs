//! A real memory alarm on the broker of this machine (`rabbitmqctl
//! set_vm_memory_high_watermark 0`): publishes fail promptly as temporary errors instead of
//! hanging, and succeed again once the alarm clears. Its own test binary, and one test, so
//! the alarm is raised once and briefly; a guard restores the watermark (0.4) however the test
//! ends, and a detached watchdog restores it too should this process be killed outright.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use seedgate_runtime::bus::rabbitmq::RabbitBus;
use seedgate_runtime::bus::{Bus, BusError, QueueSpec};
use seedgate_runtime::config::{BusConfig, BusKind};

const RESTORE: &str = "0.4";

fn watermark(value: &str) {
    let status = Command::new("rabbitmqctl")
        .args(["-q", "set_vm_memory_high_watermark", value])
        .stdout(Stdio::null())
        .status()
        .expect("rabbitmqctl runs");
    assert!(
        status.success(),
        "rabbitmqctl set_vm_memory_high_watermark {value}"
    );
}

/// Restores the watermark when dropped, panics included.
struct Alarm;

impl Alarm {
    fn raise() -> Self {
        // Should this process die before its guard runs, the watchdog restores the broker
        // (`setsid -f` forks it off and returns at once).
        let watchdog = Command::new("setsid")
            .args([
                "-f",
                "sh",
                "-c",
                &format!("sleep 60; rabbitmqctl -q set_vm_memory_high_watermark {RESTORE}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("setsid runs");
        assert!(watchdog.success(), "the watchdog started");
        watermark("0");
        Alarm
    }
}

impl Drop for Alarm {
    fn drop(&mut self) {
        watermark(RESTORE);
    }
}

#[tokio::test]
async fn a_memory_alarm_fails_publishes_promptly_and_they_resume_after_it() {
    let mut cfg = BusConfig::default();
    cfg.kind = BusKind::Rabbitmq;
    cfg.url = std::env::var("SEEDGATE_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    cfg.exchange = "seedgate-test".into();
    cfg.queue_prefix = format!("t{}.", uuid::Uuid::now_v7().simple());
    cfg.queue_expires_ms = Some(60_000);
    cfg.publish_timeout_ms = 1_000;
    let bus = RabbitBus::new(cfg);
    let key = format!("c{}.inbound", uuid::Uuid::now_v7().simple());
    bus.declare(&QueueSpec::new("q", [key.clone()])).await.unwrap();
    bus.publish(&key, b"before").await.unwrap();

    let failures = {
        let _alarm = Alarm::raise();
        let mut failures = Vec::new();
        for _ in 0..3 {
            let started = Instant::now();
            let err = bus.publish(&key, b"during").await.unwrap_err();
            let took = started.elapsed();
            assert!(
                matches!(err, BusError::Rejected(_) | BusError::Unavailable(_)),
                "{err:?}"
            );
            assert!(took < Duration::from_millis(1_500), "a publish took {took:?}");
            failures.push(format!("{took:?}: {err}"));
        }
        failures
    };
    eprintln!("publishes during the alarm: {failures:#?}");

    let started = Instant::now();
    loop {
        match bus.publish(&key, b"after").await {
            Ok(()) => break,
            Err(e) => assert!(
                started.elapsed() < Duration::from_secs(20),
                "publishes still fail 20 s after the alarm cleared: {e}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut sub = bus.consume("q", 10).await.unwrap();
    let d = tokio::time::timeout(Duration::from_secs(10), sub.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(d.payload, b"before");
}
