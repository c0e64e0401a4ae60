//! Shared kit for every seedgate service.
//!
//! - [`config`]: one TOML file plus `SEEDGATE_*` environment overrides, errors naming the key.
//! - [`telemetry`]: `tracing` JSON lines on stdout, MSISDN masking, the Prometheus recorder.
//! - [`ops`]: `/healthz`, `/readyz` and `/metrics`.
//! - [`channels`]: the live set of channels (config file + API), and a supervisor that
//!   starts, restarts and stops each channel's connector as the set changes.
//! - [`catalog`]: the live flows (the store's published flow files), followed by every
//!   process, with the sets live at earlier publishes for runs still on them.
//! - [`lease`]: one holder at a time for a named resource (a carrier account's one bind).
//! - [`outbox`]: the relay from the store's outbox to the bus (API sends, flow SMS, campaigns).
//! - [`monitor`]: per-channel status (ok / degraded / down) and recent traffic, shared through
//!   the session store.
//! - [`error`]: the runtime's errors mapped onto `ErrorCode`, which decides retries.
//! - [`shutdown`]: SIGTERM/SIGINT → a cancellation token with a drain deadline.
//! - [`service`]: the [`Runtime`] every service is given and the [`Service`] trait: check the
//!   config, start on the runtime, run until shutdown.
//! - [`bus`], [`session_store`], [`store`]: the traits services talk through, with the
//!   in-process and networked implementations of the first two. Store implementations live in
//!   the `seedgate-store` crate, the only one that uses `sqlx`.
//!
//! This crate is the only one that touches `lapin` and `redis` directly.

pub mod bus;
pub mod catalog;
pub mod channels;
pub mod config;
pub mod dedupe;
pub mod error;
pub mod group;
pub mod json;
pub mod lease;
pub mod monitor;
pub mod ops;
pub mod outbox;
pub mod service;
pub mod session_store;
pub mod shutdown;
pub mod store;
pub mod telemetry;
pub mod topology;
pub mod worker;

pub use service::{Runtime, Service};
