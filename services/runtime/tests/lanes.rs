//! A channel's connector takes campaign messages (`<channel>.bulk`) one at a time beside its
//! interactive traffic (`<channel>.outbound`): a campaign never fills the window.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use seedgate_runtime::bus::memory::MemoryBus;
use seedgate_runtime::bus::Bus;
use seedgate_runtime::worker::{consume_channel, Stop};
use tokio_util::sync::CancellationToken;

#[derive(Default)]
struct Lane {
    now: AtomicUsize,
    max: AtomicUsize,
    done: AtomicUsize,
}

#[tokio::test(start_paused = true)]
async fn bulk_messages_go_one_at_a_time_beside_the_interactive_lane() {
    let bus: Arc<dyn Bus> = Arc::new(MemoryBus::new());
    let (main, bulk) = (Arc::new(Lane::default()), Arc::new(Lane::default()));
    let shutdown = CancellationToken::new();
    let stop = Stop {
        halt: shutdown.child_token(),
        shutdown: shutdown.clone(),
    };
    let (m, b) = (main.clone(), bulk.clone());
    let handler = move |key: String, _payload: Vec<u8>| {
        let lane = if key.ends_with(".bulk") {
            b.clone()
        } else {
            m.clone()
        };
        async move {
            let n = lane.now.fetch_add(1, Ordering::SeqCst) + 1;
            lane.max.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(100)).await;
            lane.now.fetch_sub(1, Ordering::SeqCst);
            lane.done.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    };
    let task = tokio::spawn(consume_channel("test", bus.clone(), "sms", 8, stop, handler));
    tokio::time::sleep(Duration::from_millis(10)).await; // the queues are declared
    for _ in 0..16 {
        bus.publish("sms.bulk", b"campaign").await.unwrap();
        bus.publish("sms.outbound", b"reply").await.unwrap();
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(main.done.load(Ordering::SeqCst), 16);
    assert_eq!(bulk.done.load(Ordering::SeqCst), 16);
    assert_eq!(
        bulk.max.load(Ordering::SeqCst),
        1,
        "one campaign message at a time"
    );
    assert_eq!(
        main.max.load(Ordering::SeqCst),
        8,
        "the interactive lane uses its whole window"
    );
    shutdown.cancel();
    task.await.unwrap().unwrap();
}
