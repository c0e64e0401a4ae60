//! What every aggregator's fuzz target checks, whatever the bytes: the parser and renderer
//! never panic; a request that parses gives a message of the channel whose MSISDN is one (or
//! absent, where the protocol allows); one that does not says why.
//!
//! Input: the first byte picks the content type, the second whether the path is the
//! channel's callback itself (even) or the bytes up to the first `\n` (odd); the rest is the
//! body. Seed a corpus with the fixture's requests to start deep.

use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue};
use seedgate_proto::msisdn::{is_msisdn, normalise};
use seedgate_runtime::config::ChannelConfig;

const CONTENT_TYPES: [&str; 4] = [
    "application/x-www-form-urlencoded",
    "application/json",
    "text/plain",
    "",
];

pub fn check(fixture: &'static str, data: &[u8]) {
    static CFG: OnceLock<ChannelConfig> = OnceLock::new();
    let cfg = CFG.get_or_init(|| {
        let fx: serde_json::Value = serde_json::from_str(fixture).expect("the fixture is JSON");
        ChannelConfig::parse("ch", &fx["channel"]).expect("the fixture's channel is valid")
    });
    let [ct, path_mode, rest @ ..] = data else {
        return;
    };
    let (path, body) = if path_mode % 2 == 0 {
        ("", rest)
    } else {
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let path = std::str::from_utf8(&rest[..end]).unwrap_or("");
        (path, rest.get(end + 1..).unwrap_or(&[]))
    };
    let mut headers = HeaderMap::new();
    let content_type = CONTENT_TYPES[usize::from(*ct) % CONTENT_TYPES.len()];
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    match seedgate_http_channels::parse_callback("ch", cfg, path, &headers, body) {
        Some(Ok(msg)) => {
            assert_eq!(msg.channel, "ch");
            assert!(
                msg.from.is_empty() || is_msisdn(&normalise(&msg.from)),
                "from `{}`",
                msg.from
            );
            let session = msg.session.expect("a USSD message has a session");
            assert!(session.id.starts_with("ch:"), "{}", session.id);
        }
        Some(Err(e)) => assert!(!e.0.is_empty()),
        None => panic!("the fixture's channel takes HTTP callbacks"),
    }
}
