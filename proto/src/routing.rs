//! Routing keys on the one topic exchange, in the Vumi convention operators know.
//!
//! Connector-facing keys: `<channel>.inbound` (connector → sessions, store),
//! `<channel>.outbound` (sessions → connector, store), `<channel>.bulk` (campaign messages:
//! outbox → connector, store), `<channel>.event` (connector → store),
//! `<channel>.session` (session records: sessions → store).
//! App-facing keys, between the session engine and the flow runner:
//! `<channel>.app.inbound` and `<channel>.app.outbound`. A `*.inbound` binding matches only
//! connector-facing keys, because `*` matches exactly one word.

/// A routing key for one channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoutingKey<'a> {
    Inbound(&'a str),
    Outbound(&'a str),
    /// Campaign messages: the same as outbound, in a lane connectors take slowly.
    Bulk(&'a str),
    Event(&'a str),
    Session(&'a str),
    AppInbound(&'a str),
    AppOutbound(&'a str),
}

impl RoutingKey<'_> {
    pub fn render(&self) -> String {
        match self {
            Self::Inbound(c) => format!("{c}.inbound"),
            Self::Outbound(c) => format!("{c}.outbound"),
            Self::Bulk(c) => format!("{c}.bulk"),
            Self::Event(c) => format!("{c}.event"),
            Self::Session(c) => format!("{c}.session"),
            Self::AppInbound(c) => format!("{c}.app.inbound"),
            Self::AppOutbound(c) => format!("{c}.app.outbound"),
        }
    }

    /// Parses a rendered key back; `None` for keys outside the convention.
    pub fn parse(key: &str) -> Option<RoutingKey<'_>> {
        let (channel, rest) = key.split_once('.')?;
        if !is_valid_channel_name(channel) {
            return None;
        }
        Some(match rest {
            "inbound" => RoutingKey::Inbound(channel),
            "outbound" => RoutingKey::Outbound(channel),
            "bulk" => RoutingKey::Bulk(channel),
            "event" => RoutingKey::Event(channel),
            "session" => RoutingKey::Session(channel),
            "app.inbound" => RoutingKey::AppInbound(channel),
            "app.outbound" => RoutingKey::AppOutbound(channel),
            _ => return None,
        })
    }

    pub fn channel(&self) -> &str {
        match self {
            Self::Inbound(c)
            | Self::Outbound(c)
            | Self::Bulk(c)
            | Self::Event(c)
            | Self::Session(c)
            | Self::AppInbound(c)
            | Self::AppOutbound(c) => c,
        }
    }
}

/// Channel names are one routing-key word: ASCII letters, digits, `-` and `_`, 1–64 long.
pub fn is_valid_channel_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_render_and_parse_back() {
        for key in [
            RoutingKey::Inbound("demo-at"),
            RoutingKey::Outbound("demo-at"),
            RoutingKey::Bulk("partner-sms"),
            RoutingKey::Event("mtn_ng"),
            RoutingKey::Session("demo-at"),
            RoutingKey::AppInbound("demo-at"),
            RoutingKey::AppOutbound("x"),
        ] {
            assert_eq!(RoutingKey::parse(&key.render()), Some(key));
        }
        assert_eq!(RoutingKey::Inbound("demo-at").render(), "demo-at.inbound");
        assert_eq!(
            RoutingKey::AppOutbound("demo-at").render(),
            "demo-at.app.outbound"
        );
    }

    #[test]
    fn keys_outside_the_convention_are_rejected() {
        for key in ["demo-at", "demo-at.nope", "a.b.inbound", ".inbound", "dé.inbound"] {
            assert_eq!(RoutingKey::parse(key), None, "{key}");
        }
    }

    #[test]
    fn channel_names_are_one_routing_word() {
        assert!(is_valid_channel_name("demo-at"));
        assert!(is_valid_channel_name("mtn_ng_ussd2"));
        for bad in ["", "a.b", "a*", "a#", "a b", &"x".repeat(65)] {
            assert!(!is_valid_channel_name(bad), "{bad}");
        }
    }
}
