//! Redial-resume through the flow-runner service, on the in-process bus and session store and
//! a real SQLite store (so the clock is real: a 2 s resume window stands in for the default
//! 300 s): a user whose session broke off mid-flow and who dials again within the channel's
//! window is offered to continue; outside the window, or after the flow ended, they start
//! afresh.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::time::Duration;

use seedgate_proto::SessionEvent;
use seedgate_runtime::config::Config;

/// The resume window of the tests' channel.
const WINDOW: Duration = Duration::from_secs(2);

struct Phone(common::Harness);

async fn start() -> Phone {
    let mut config = Config::default();
    if let Some(ch) = config.channels.get_mut("demo-at") {
        ch.resume_window_secs = WINDOW.as_secs();
    }
    let flows = seedgate_flows::load_str("demo.yaml", seedgate_flows::BUILTIN_DEMO).unwrap();
    let store = common::store(seedgate_runtime::config::StoreKind::Sqlite);
    Phone(common::start(config, flows, store, common::clock("2026-12-02T08:00:00Z")).await)
}

impl Phone {
    /// Sends one hop of session `session` and returns the screen shown.
    async fn hop(&mut self, session: &str, event: SessionEvent, input: &str) -> (String, bool) {
        self.0.hop("+27820000009", session, event, input).await
    }

    async fn dial(&mut self, session: &str) -> String {
        self.hop(session, SessionEvent::New, "").await.0
    }

    async fn answer(&mut self, session: &str, input: &str) -> String {
        self.hop(session, SessionEvent::Resume, input).await.0
    }
}

#[tokio::test]
async fn a_redial_within_the_window_continues_where_the_user_was() {
    let mut phone = start().await;
    assert!(phone.dial("a").await.starts_with("Welcome"));
    assert!(phone.answer("a", "1").await.contains("Are you pregnant?"));
    // The network drops the session. A moment later the user dials again.
    tokio::time::sleep(WINDOW / 4).await;
    let offer = phone.dial("b").await;
    assert!(offer.contains("Continue where you left off"), "{offer}");
    let again = phone.answer("b", "1").await;
    assert!(
        again.contains("Are you pregnant?"),
        "the screen they were on: {again}"
    );
    assert!(phone.answer("b", "1").await.contains("Which language"));
    let (end, closed) = phone.hop("b", SessionEvent::Resume, "2").await;
    assert!(closed && end.contains("You are registered"), "{end}");
    // Finished: the next dial starts afresh.
    assert!(phone.dial("c").await.starts_with("Welcome"));
}

#[tokio::test]
async fn start_again_and_unknown_answers_to_the_offer() {
    let mut phone = start().await;
    phone.dial("a").await;
    phone.answer("a", "1").await;
    let offer = phone.dial("b").await;
    assert_eq!(
        phone.answer("b", "9").await,
        offer,
        "anything else shows the offer again"
    );
    assert!(
        phone.answer("b", "2").await.starts_with("Welcome"),
        "2 starts again"
    );
    assert!(phone.answer("b", "1").await.contains("Are you pregnant?"));
}

#[tokio::test]
async fn no_offer_outside_the_window_or_from_the_first_screen() {
    let mut phone = start().await;
    phone.dial("a").await;
    // Dropped on the first screen: nothing to continue.
    assert!(phone.dial("b").await.starts_with("Welcome"));
    phone.answer("b", "1").await;
    tokio::time::sleep(WINDOW + Duration::from_millis(200)).await;
    assert!(
        phone.dial("c").await.starts_with("Welcome"),
        "no offer after the window"
    );
}
