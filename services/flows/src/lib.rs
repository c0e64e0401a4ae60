//! The flow runner: flow files (YAML) programme staff write, a pure interpreter, and the
//! service that answers sessions with it.
//!
//! This is the minimal language of the walking skeleton: `menu`, `end` and `goto` nodes, text
//! per language, and transcripts (`tests:`) inside the flow file. The full language
//! (`../shared/FLOWS.md`) grows from here.
//!
//! - [`model`]: the file format (serde), unknown keys refused.
//! - [`load`]: reads a folder of flow files and validates them; errors carry file and line.
//! - [`interp`]: `(flow, state, input) → (screen, new state)`, pure, with a step limit.
//! - [`service`]: consumes `<channel>.app.inbound`, keeps run state in the session store,
//!   publishes replies on `<channel>.app.outbound`.
//! - [`transcript`]: runs the `tests:` of every flow against the interpreter.

pub mod interp;
pub mod load;
pub mod model;
pub mod service;
pub mod transcript;

pub use load::{load_dir, load_str, FlowError, Flows};
pub use service::run;

/// The demo flow, built in so `seedgate up` works from any folder (and in the container).
pub const BUILTIN_DEMO: &str = include_str!("../../../flows/demo.yaml");
