//! Rows the suites build.

use super::*;

pub fn at_ms(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(1_764_000_000_000 + ms).single().unwrap()
}

pub fn dialog(session: &str, msisdn: &str) -> (Message, Message) {
    let mut inbound = Message::inbound("demo-at", TransportType::Ussd, msisdn, "*134*550#", "");
    inbound.session = Some(SessionInfo {
        id: session.into(),
        event: SessionEvent::New,
    });
    inbound.created_at = at_ms(0);
    inbound.metadata.insert("network_code".into(), "65501".into());
    let mut reply = inbound.reply("Welcome\n1. Register", SessionEvent::Resume);
    reply.created_at = at_ms(5);
    (inbound, reply)
}

pub fn sms_to(to: &str, text: &str) -> Message {
    let mut m = Message::inbound("demo-sms", TransportType::Sms, "MomConnect", to, text);
    m.direction = seedgate_proto::Direction::Outbound;
    m
}

pub fn key(k: &str, fingerprint: &str) -> Idempotency {
    Idempotency {
        scope: "token-1".into(),
        key: k.into(),
        fingerprint: fingerprint.into(),
        window: Duration::from_secs(3600),
    }
}

pub fn at_day(day: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2027, 1, day, 9, 0, 0).single().unwrap()
}

pub fn sub(msisdn: &str, set: &str, due: u32) -> Subscription {
    Subscription {
        id: Uuid::now_v7(),
        key: msisdn.into(),
        msisdn: msisdn.into(),
        set: set.into(),
        next_index: 0,
        next_due: at_day(due),
        state: "active".into(),
        created_at: Utc::now(),
    }
}

pub fn bulk_sms(to: &str) -> Message {
    let mut m = Message::inbound("demo-sms", TransportType::Sms, "MomConnect", to, "Week 20: …");
    m.direction = seedgate_proto::Direction::Outbound;
    m.metadata.insert("priority".into(), "bulk".into());
    m
}
