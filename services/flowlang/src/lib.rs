//! The flow language programme staff write (YAML): its file format, validator, expressions, a
//! pure interpreter, transcripts and message-set schedules. No IO but reading flow files, no
//! clock read (time is passed in): `seedgate dial`, `seedgate flow test` and the load tests use
//! it without the bus, the stores or a runtime. The runner that does IO is `seedgate-flows`.
//!
//! - [`model`]: the file format (serde, JSON Schema), unknown keys refused.
//! - [`load`] and [`validate`]: read flow files and check everything a file can get wrong,
//!   each problem with file, line ([`lines`]) and reason.
//! - [`expr`]: `@`-expressions (MiniJinja's expression language and a function library);
//!   [`cases`]: the tests answers are routed by (`has_number_between`, …).
//!   [`template`]: a text with its expressions compiled; [`compiled`]: every text of the
//!   loaded flows compiled once, at load, for the interpreter.
//! - [`interp`]: `(flows, state, input, now) → (screen, effects, new state)`, pure, bounded.
//! - [`transcript`]: runs the `tests:` of flow files against the interpreter.
//! - [`schedule`]: when message-set messages are due.
//! - For the studio: [`paths`] (expected billing slices per path), [`pages`] (USSD screens
//!   split as a phone sees them) and [`lines::locate`] (the flow and node a report line is in).

pub mod cases;
pub mod compiled;
pub mod expr;
pub mod interp;
pub mod lines;
pub mod load;
pub mod model;
pub mod pages;
pub mod paths;
pub mod schedule;
pub mod template;
pub mod transcript;
pub mod validate;

pub use load::{load_dir, load_str, FlowError, Flows};

/// The demo flow, built in so `seedgate up` works from any folder (and in the container).
pub const BUILTIN_DEMO: &str = include_str!("../../../flows/demo.yaml");
/// The registration flow and its message set, built in likewise.
pub const BUILTIN_REGISTRATION: &str = include_str!("../../../flows/registration.yaml");

/// The built-in flow files, checked together.
pub fn builtin() -> Result<Flows, FlowError> {
    let sources = [
        load::Source {
            path: "(built-in) demo.yaml".into(),
            text: BUILTIN_DEMO.into(),
        },
        load::Source {
            path: "(built-in) registration.yaml".into(),
            text: BUILTIN_REGISTRATION.into(),
        },
    ];
    let (flows, report) = load::check(&sources, &validate::Limits::default());
    match report.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(flows),
    }
}

/// The JSON Schema of flow files, for editors (`flows/flow-file.schema.json`).
pub fn schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::FlowFile)).unwrap_or_default()
}
