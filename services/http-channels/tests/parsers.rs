//! Every aggregator's parser and renderer, on arbitrary input: never a panic. Inputs are the
//! fixtures' requests (`tests/fixtures/*.json`) cut, spliced with noise and with bytes changed,
//! sent to any path with any content type. A request that parses gives a message of the
//! channel whose MSISDN is one (or absent, where the protocol allows); one that does not says
//! why. The same properties are fuzzed without bounds by `fuzz/` (`cargo fuzz`).

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::path::PathBuf;
use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue};
use proptest::prelude::*;
use seedgate_http_channels::parse_callback;
use seedgate_proto::msisdn::{is_msisdn, normalise};
use seedgate_runtime::config::ChannelConfig;
use serde_json::Value;

/// A fixture's channel and the requests it sends: (path, body).
struct Fixture {
    name: String,
    cfg: ChannelConfig,
    requests: Vec<(String, Vec<u8>)>,
}

fn fixtures() -> &'static [Fixture] {
    static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let mut out: Vec<Fixture> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .map(|p| {
                let fx: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                let cfg = ChannelConfig::parse("ch", &fx["channel"]).unwrap();
                let specs = fx["hops"].as_array().unwrap().iter().map(|h| &h["request"]);
                let bad = fx["malformed"].as_array().unwrap().iter().map(|h| &h["request"]);
                let requests = specs
                    .chain(bad)
                    .map(|r| {
                        let body = match &r["body"] {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => other.to_string(),
                        };
                        (r["path"].as_str().unwrap_or("").to_string(), body.into_bytes())
                    })
                    .collect();
                let name = p.file_stem().unwrap().to_string_lossy().into_owned();
                Fixture { name, cfg, requests }
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        assert!(out.len() >= 7, "a fixture per aggregator");
        out
    })
}

const CONTENT_TYPES: [&str; 5] = [
    "application/x-www-form-urlencoded",
    "application/json",
    "application/json; charset=utf-8",
    "text/plain",
    "",
];

fn check(fx: &Fixture, path: &str, content_type: &str, body: &[u8]) {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(axum::http::header::CONTENT_TYPE, v);
    }
    match parse_callback("ch", &fx.cfg, path, &headers, body).expect("an HTTP channel") {
        Ok(msg) => {
            assert_eq!(msg.channel, "ch", "{}", fx.name);
            let from = msg.from.as_str();
            assert!(
                from.is_empty() || is_msisdn(&normalise(from)),
                "{}: parsed a message from `{from}`",
                fx.name
            );
            let session = msg.session.as_ref().expect("a USSD message has a session");
            assert!(session.id.starts_with("ch:"), "{}: {}", fx.name, session.id);
        }
        Err(e) => assert!(!e.0.is_empty(), "{}: an error says why", fx.name),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_changed_requests(
        fixture in any::<prop::sample::Index>(),
        request in any::<prop::sample::Index>(),
        content_type in 0..CONTENT_TYPES.len(),
        own_path in any::<bool>(),
        path in "[a-z/{}x0-9]{0,24}",
        cut in any::<Option<prop::sample::Index>>(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..6),
        noise in prop::collection::vec(any::<u8>(), 0..48),
        noise_at in any::<prop::sample::Index>(),
    ) {
        let fx = &fixtures()[fixture.index(fixtures().len())];
        let (fx_path, body) = &fx.requests[request.index(fx.requests.len())];
        let mut body = body.clone();
        if let Some(cut) = cut {
            body.truncate(cut.index(body.len() + 1));
        }
        for (at, byte) in changes {
            if !body.is_empty() {
                let i = at.index(body.len());
                body[i] = byte;
            }
        }
        let at = noise_at.index(body.len() + 1);
        body.splice(at..at, noise);
        let path = if own_path { fx_path.as_str() } else { path.as_str() };
        check(fx, path, CONTENT_TYPES[content_type], &body);
    }

    #[test]
    fn parsers_never_panic_on_arbitrary_bytes(
        fixture in any::<prop::sample::Index>(),
        content_type in 0..CONTENT_TYPES.len(),
        path in ".{0,16}",
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        let fx = &fixtures()[fixture.index(fixtures().len())];
        check(fx, &path, CONTENT_TYPES[content_type], &body);
    }
}
