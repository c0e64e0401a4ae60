//! What the session engine's tests share.

use seedgate_proto::{Message, SessionEvent, SessionInfo, TransportType};

/// A USSD hop from the demo phone on `demo-at`, in session `session`.
pub fn hop(session: &str, event: SessionEvent, content: &str) -> Message {
    let mut m = Message::inbound(
        "demo-at",
        TransportType::Ussd,
        "+27820000001",
        "*134*550#",
        content,
    );
    m.session = Some(SessionInfo {
        id: session.into(),
        event,
    });
    m
}
