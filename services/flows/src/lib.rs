//! The flow runner: runs the flow language ([`seedgate_flowlang`]: model, validator,
//! interpreter, transcripts, schedules; pure) against the bus, the session store and the store.
//!
//! - [`check`]: what the runner checks before a port is bound, and its `Service`.
//! - [`service`]: consumes `<channel>.app.inbound`; USSD sessions (state in the session
//!   store, redial-resume) and SMS conversations (state in the store, timeouts); [`effects`]
//!   carries out webhook calls, contact changes, subscriptions and SMS; [`people`] loads and
//!   saves contacts.
//! - [`stats`]: the arrows runs take, counted for the studio's drop-off view.
//! - [`campaigns`]: the scheduler that sends each due message-set message exactly once.

pub mod campaigns;
pub mod check;
pub mod effects;
pub mod people;
pub mod service;
pub mod stats;

pub use check::Service;
pub use seedgate_flowlang::{
    builtin, load_dir, load_str, schema, FlowError, Flows, BUILTIN_DEMO, BUILTIN_REGISTRATION,
};
pub use service::{run, run_with_clock, Backends};
