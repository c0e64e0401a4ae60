//! One conformance suite per concern of the store (a module each, named after its trait in
//! `seedgate_runtime::store`), every test run on all four stores: SQLite (a fresh file),
//! PostgreSQL (this machine's server, `SEEDGATE_TEST_DATABASE_URL`, a fresh schema per test),
//! and both sealed (encryption at rest).

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

#[path = "../common/mod.rs"]
mod common;

mod audit;
mod channels;
mod contacts;
mod flowfiles;
mod helpers;
mod journal;
mod messages;
mod outbox;
mod receipts;
mod retention;
mod runs;
mod sessions;
mod staff;
mod subscriptions;
mod tokens;
mod webhooks;

pub(crate) use std::sync::Arc;
pub(crate) use std::time::Duration;

pub(crate) use chrono::{DateTime, TimeZone, Utc};
pub(crate) use seedgate_proto::{
    DeliveryStatus, Event, EventKind, Message, SessionEndReason, SessionEvent, SessionInfo, SessionRecord,
    TransportType,
};
pub(crate) use seedgate_runtime::config::{StoreConfig, StoreKind};
pub(crate) use seedgate_runtime::store::*;
pub(crate) use uuid::Uuid;

#[tokio::test]
async fn an_unreachable_postgres_is_reported_unavailable() {
    let mut cfg = StoreConfig::default();
    cfg.kind = StoreKind::Postgres;
    cfg.url = "postgres://postgres@127.0.0.1:1/test".into();
    let store = seedgate_store::open(&cfg).unwrap();
    let err = store.check().await.unwrap_err();
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}
