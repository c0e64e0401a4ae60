//! The seedgate message contract: what travels on the bus and what the store keeps.
//!
//! This crate does no IO. Every type here is JSON on the wire; the JSON Schema in
//! `proto/schema/` is generated from these types (`cargo test -p seedgate-proto` fails when it
//! is stale) and the golden fixtures in `proto/fixtures/` must keep deserialising, so a change
//! here that breaks a deployed peer is caught before it lands.
//!
//! Meanings that services act on are typed fields, not metadata: a `close` message's
//! `close_reason` (a [`SessionEndReason`]) and an outbound message's `priority` (`bulk` for
//! campaign messages). Older processes wrote them as `metadata.reason` and
//! `metadata.priority`; decoding still accepts that form, filling the fields from it
//! (`fixtures/*_legacy_v1.json`), and new messages carry only the fields. [`ErrorCode`] is the one
//! vocabulary of errors: whether to retry, the HTTP status and JSON code, the SMPP status.

mod error;
mod event;
mod message;
mod routing;
mod session;

pub use error::ErrorCode;
pub use event::{DeliveryStatus, Event, EventKind};
pub use message::{Direction, Message, Priority, SessionEvent, SessionInfo, TransportType};
pub use routing::{is_valid_channel_name, RoutingKey};

pub mod msisdn;
pub use session::{CarrierReport, SessionEndReason, SessionRecord, SLICE_SECS};

/// Current version of the wire contract, carried in every message and event.
pub const PROTO_VERSION: u32 = 1;

/// The JSON Schemas of the contract's top-level types, keyed by file name.
pub fn schemas() -> Vec<(&'static str, serde_json::Value)> {
    vec![
        ("message.schema.json", schema_json::<Message>()),
        ("event.schema.json", schema_json::<Event>()),
        ("session.schema.json", schema_json::<SessionRecord>()),
    ]
}

fn schema_json<T: schemars::JsonSchema>() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(T)).unwrap_or(serde_json::Value::Null)
}
