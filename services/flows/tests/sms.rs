//! An SMS conversation through the flow runner on a real store: a message starts the flow,
//! answers are routed by cases, state survives between messages (in the store), a question
//! that gets no answer times out, and a redelivered message is not answered twice.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

mod common;

use std::time::Duration;

use seedgate_runtime::config::{ChannelType, Config, StoreKind};
use seedgate_runtime::store::{MessageQuery, Store};

const FLOW: &str = r#"
languages: [eng]
flows:
  checkin:
    channel: sms
    start: ask
    nodes:
      ask:
        ask:
          text: "Did you go to the clinic this week? Reply YES or NO."
          result: clinic
          cases:
            - {test: has_any_word, args: ["yes yebo"], category: yes, goto: thanks}
            - {test: has_any_word, args: ["no cha"], category: no, goto: why}
          other: ask
          timeout: {after: 2d, goto: reminder}
      why:
        ask:
          text: "What stopped you?"
          result: reason
          goto: noted
      noted:
        actions:
          - set_field: {name: missed_reason, value: "@results.reason"}
        end: {text: "Thank you. A nurse will call you."}
      thanks:
        actions:
          - add_group: attended
        end: {text: "Well done! See you next week."}
      reminder:
        end: {text: "We did not hear from you. Please go to the clinic soon."}
"#;

const PHONE: &str = "+27820000950";

async fn sms_to_phone(store: &dyn Store) -> Vec<String> {
    let q = MessageQuery {
        address: Some(PHONE.into()),
        channel: Some("demo-sms".into()),
        limit: 50,
        ..Default::default()
    };
    let mut out: Vec<(uuid::Uuid, String)> = store
        .messages(&q)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.message.direction == seedgate_proto::Direction::Outbound)
        .map(|m| (m.message.id, m.message.content))
        .collect();
    out.sort();
    out.into_iter().map(|(_, t)| t).collect()
}

async fn wait_for(store: &dyn Store, n: usize) -> Vec<String> {
    for _ in 0..200 {
        let got = sms_to_phone(store).await;
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    sms_to_phone(store).await
}

#[tokio::test]
async fn an_sms_conversation_starts_answers_and_times_out() {
    let mut config = Config::default();
    let ch = config.channels.get_mut("demo-sms").unwrap();
    assert_eq!(ch.channel_type(), ChannelType::SimulatedCarrier);
    ch.flow = Some("checkin".into());
    config.flows.scheduler_every_secs = 1;
    let store = common::store(StoreKind::Sqlite);
    let clock = common::clock("2026-12-02T08:00:00Z");
    let flows = seedgate_flows::load_str("checkin.yaml", FLOW).unwrap();
    let runner = common::start(config, flows, store.clone(), clock.clone()).await;
    let send = |text: &'static str| runner.sms("demo-sms", PHONE, text);
    // A message starts the flow; an answer no case takes asks again; "no" goes on.
    let first = send("hi").await;
    assert_eq!(
        wait_for(store.as_ref(), 1).await,
        ["Did you go to the clinic this week? Reply YES or NO."]
    );
    send("maybe").await;
    assert_eq!(wait_for(store.as_ref(), 2).await.len(), 2);
    send("No, sorry").await;
    assert_eq!(wait_for(store.as_ref(), 3).await[2], "What stopped you?");
    // A redelivery of an old message changes nothing.
    runner
        .bus
        .publish("demo-sms.app.inbound", &serde_json::to_vec(&first).unwrap())
        .await
        .unwrap();
    send("no money for the taxi").await;
    let all = wait_for(store.as_ref(), 4).await;
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(all[3], "Thank you. A nurse will call you.");
    let contact = store.contact(PHONE).await.unwrap().unwrap();
    assert_eq!(
        contact.fields.get("missed_reason"),
        Some(&"no money for the taxi".into())
    );
    assert!(
        store
            .run_get(&format!("sms:demo-sms:{PHONE}"))
            .await
            .unwrap()
            .is_none(),
        "the conversation ended"
    );

    // A new conversation; no answer for two days: the timeout's reminder goes out.
    send("hello").await;
    assert_eq!(wait_for(store.as_ref(), 5).await.len(), 5);
    *clock.lock().unwrap() += chrono::Duration::days(2) + chrono::Duration::minutes(1);
    let all = wait_for(store.as_ref(), 6).await;
    assert_eq!(
        all.get(5).map(String::as_str),
        Some("We did not hear from you. Please go to the clinic soon."),
        "{all:?}"
    );
    runner.stop().await;
}
