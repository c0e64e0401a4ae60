//! One callback through its channel's aggregator with no bus, store or socket: what the fuzz
//! targets (`fuzz/`) and the property test (`tests/parsers.rs`) drive, so bytes from strangers
//! reach every parser and renderer without the rest of the connector.

use axum::http::HeaderMap;
use seedgate_proto::Message;
use seedgate_runtime::config::ChannelConfig;

use crate::{aggregator, Malformed, Parsed, Request, Screen};

/// Parses one request to `channel` (configured as `cfg`) at `path` below its callback, and
/// renders an answer to what it parsed (a hop gets a screen, an end report its ack). `None`
/// for a channel type that takes no HTTP callbacks.
pub fn parse_callback(
    channel: &str,
    cfg: &ChannelConfig,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Option<Result<Message, Malformed>> {
    let agg = aggregator(cfg.channel_type())?;
    let req = Request {
        channel,
        cfg,
        path,
        headers,
        body,
    };
    Some(agg.parse(&req).map(|parsed| match parsed {
        Parsed::Hop(msg) => {
            let screen = Screen {
                text: "Welcome\n1. Register".into(),
                close: false,
            };
            drop(agg.render(cfg, &screen, &msg));
            msg
        }
        Parsed::Ended(msg) => {
            drop(agg.ack(&msg));
            msg
        }
    }))
}
