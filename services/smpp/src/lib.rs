//! SMPP 3.4 for seedgate: our own codec (see ARCHITECTURE.md for why), and the text layer.
//!
//! - [`pdu`]: every SMPP 3.4 PDU as a closed enum, encode and decode. Decoding is framing
//!   first: [`codec::SmppCodec`] reads `command_length`, refuses lengths under 16 or over the
//!   configured maximum before allocating, and hands complete PDUs to [`pdu::Frame::decode`],
//!   whose errors carry the sequence number and the right `command_status`, so the bind can
//!   answer (with the command's `_resp` or a `generic_nack`) and stay up.
//! - [`tlv`]: optional parameters; the standard ones typed, unknown ones kept raw.
//! - [`status`]: `command_status` values.
//! - [`link`]: one SMPP connection (either side): batched writes, window, keepalive.
//! - [`server`]: the SMPP server connector partners bind to.
//! - [`sim`]: the simulated carrier channel.
//! - [`service`]: all of them as one service of the process, and what it checks first.
//! - [`ussd`]: USSD over SMPP: vendor profiles as data.
//! - [`esme`]: the ESME client connector (seedgate binds to an SMSC).
//! - [`smsc_sim`]: the SMSC simulator behind `seedgate smsc-sim`.
//! - [`text`]: GSM 03.38 (default alphabet, extension table), Latin-1 and UCS2 codecs,
//!   splitting into parts by GSM characters, and MO reassembly.

pub mod codec;
pub mod dialogs;
pub mod error;
pub mod esme;
pub mod link;
pub mod pdu;
pub mod rate;
pub mod server;
pub mod service;
pub mod sim;
pub mod smsc_sim;
pub mod status;
pub mod text;
pub mod time;
pub mod tls;
pub mod tlv;
pub mod ussd;

pub use codec::{FramingError, SmppCodec};
pub use pdu::{DecodeError, Frame, Pdu};
pub use service::Service;
pub use status::CommandStatus;
