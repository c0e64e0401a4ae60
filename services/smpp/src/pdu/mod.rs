//! Every SMPP 3.4 PDU, as one closed enum, with its wire encoding.
//!
//! [`Frame::decode`] takes one complete PDU (as cut by [`crate::codec::SmppCodec`]) and never
//! panics: a body it cannot read becomes a [`DecodeError`] carrying the sequence number and the
//! `command_status` to answer with, and [`DecodeError::response`] builds that answer (the
//! command's `_resp`, or `generic_nack`), so one bad PDU costs one error response, not the bind.

mod fields;
mod other;
pub(crate) mod wire;

use bytes::{BufMut, BytesMut};

pub use fields::{Address, Bind, DataSm, Sm, SHORT_MESSAGE_MAX};
pub use other::{
    AlertNotification, BindResp, CancelSm, MultiDest, Outbind, QuerySm, QuerySmResp, ReplaceSm, SmResp,
    SubmitMulti, SubmitMultiResp, Unsuccess,
};
use wire::Reader;

use crate::status::CommandStatus;

/// Octets in the PDU header.
pub const HEADER_LEN: usize = 16;

/// Command ids (SMPP 3.4, 5.1.2.1).
pub mod command_id {
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    pub const QUERY_SM: u32 = 0x0000_0003;
    pub const QUERY_SM_RESP: u32 = 0x8000_0003;
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    pub const DELIVER_SM: u32 = 0x0000_0005;
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    pub const UNBIND: u32 = 0x0000_0006;
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    pub const REPLACE_SM: u32 = 0x0000_0007;
    pub const REPLACE_SM_RESP: u32 = 0x8000_0007;
    pub const CANCEL_SM: u32 = 0x0000_0008;
    pub const CANCEL_SM_RESP: u32 = 0x8000_0008;
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    pub const OUTBIND: u32 = 0x0000_000B;
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
    pub const SUBMIT_MULTI: u32 = 0x0000_0021;
    pub const SUBMIT_MULTI_RESP: u32 = 0x8000_0021;
    pub const ALERT_NOTIFICATION: u32 = 0x0000_0102;
    pub const DATA_SM: u32 = 0x0000_0103;
    pub const DATA_SM_RESP: u32 = 0x8000_0103;
}

use command_id as id;

/// One PDU body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pdu {
    BindTransmitter(Bind),
    BindTransmitterResp(BindResp),
    BindReceiver(Bind),
    BindReceiverResp(BindResp),
    BindTransceiver(Bind),
    BindTransceiverResp(BindResp),
    Outbind(Outbind),
    Unbind,
    UnbindResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSm(Sm),
    SubmitSmResp(SmResp),
    DeliverSm(Sm),
    DeliverSmResp(SmResp),
    DataSm(DataSm),
    DataSmResp(SmResp),
    SubmitMulti(SubmitMulti),
    SubmitMultiResp(SubmitMultiResp),
    QuerySm(QuerySm),
    QuerySmResp(QuerySmResp),
    CancelSm(CancelSm),
    CancelSmResp,
    ReplaceSm(ReplaceSm),
    ReplaceSmResp,
    AlertNotification(AlertNotification),
}

impl Pdu {
    pub fn command_id(&self) -> u32 {
        match self {
            Pdu::BindTransmitter(_) => id::BIND_TRANSMITTER,
            Pdu::BindTransmitterResp(_) => id::BIND_TRANSMITTER_RESP,
            Pdu::BindReceiver(_) => id::BIND_RECEIVER,
            Pdu::BindReceiverResp(_) => id::BIND_RECEIVER_RESP,
            Pdu::BindTransceiver(_) => id::BIND_TRANSCEIVER,
            Pdu::BindTransceiverResp(_) => id::BIND_TRANSCEIVER_RESP,
            Pdu::Outbind(_) => id::OUTBIND,
            Pdu::Unbind => id::UNBIND,
            Pdu::UnbindResp => id::UNBIND_RESP,
            Pdu::EnquireLink => id::ENQUIRE_LINK,
            Pdu::EnquireLinkResp => id::ENQUIRE_LINK_RESP,
            Pdu::GenericNack => id::GENERIC_NACK,
            Pdu::SubmitSm(_) => id::SUBMIT_SM,
            Pdu::SubmitSmResp(_) => id::SUBMIT_SM_RESP,
            Pdu::DeliverSm(_) => id::DELIVER_SM,
            Pdu::DeliverSmResp(_) => id::DELIVER_SM_RESP,
            Pdu::DataSm(_) => id::DATA_SM,
            Pdu::DataSmResp(_) => id::DATA_SM_RESP,
            Pdu::SubmitMulti(_) => id::SUBMIT_MULTI,
            Pdu::SubmitMultiResp(_) => id::SUBMIT_MULTI_RESP,
            Pdu::QuerySm(_) => id::QUERY_SM,
            Pdu::QuerySmResp(_) => id::QUERY_SM_RESP,
            Pdu::CancelSm(_) => id::CANCEL_SM,
            Pdu::CancelSmResp => id::CANCEL_SM_RESP,
            Pdu::ReplaceSm(_) => id::REPLACE_SM,
            Pdu::ReplaceSmResp => id::REPLACE_SM_RESP,
            Pdu::AlertNotification(_) => id::ALERT_NOTIFICATION,
        }
    }

    /// The specification's name, for logs.
    pub fn name(&self) -> &'static str {
        command_name(self.command_id()).unwrap_or("unknown")
    }

    /// Whether this PDU is a response (its peer sent the request).
    pub fn is_response(&self) -> bool {
        self.command_id() & 0x8000_0000 != 0
    }

    fn write_body(&self, out: &mut BytesMut) {
        match self {
            Pdu::BindTransmitter(b) | Pdu::BindReceiver(b) | Pdu::BindTransceiver(b) => b.write(out),
            Pdu::BindTransmitterResp(r) | Pdu::BindReceiverResp(r) | Pdu::BindTransceiverResp(r) => {
                r.write(out)
            }
            Pdu::Outbind(o) => o.write(out),
            Pdu::SubmitSm(s) | Pdu::DeliverSm(s) => s.write(out),
            Pdu::SubmitSmResp(r) | Pdu::DeliverSmResp(r) | Pdu::DataSmResp(r) => r.write(out),
            Pdu::DataSm(d) => d.write(out),
            Pdu::SubmitMulti(m) => m.write(out),
            Pdu::SubmitMultiResp(r) => r.write(out),
            Pdu::QuerySm(q) => q.write(out),
            Pdu::QuerySmResp(r) => r.write(out),
            Pdu::CancelSm(c) => c.write(out),
            Pdu::ReplaceSm(r) => r.write(out),
            Pdu::AlertNotification(a) => a.write(out),
            Pdu::Unbind
            | Pdu::UnbindResp
            | Pdu::EnquireLink
            | Pdu::EnquireLinkResp
            | Pdu::GenericNack
            | Pdu::CancelSmResp
            | Pdu::ReplaceSmResp => {}
        }
    }
}

/// The specification's name of a command id.
pub fn command_name(command_id: u32) -> Option<&'static str> {
    Some(match command_id {
        id::GENERIC_NACK => "generic_nack",
        id::BIND_RECEIVER => "bind_receiver",
        id::BIND_RECEIVER_RESP => "bind_receiver_resp",
        id::BIND_TRANSMITTER => "bind_transmitter",
        id::BIND_TRANSMITTER_RESP => "bind_transmitter_resp",
        id::QUERY_SM => "query_sm",
        id::QUERY_SM_RESP => "query_sm_resp",
        id::SUBMIT_SM => "submit_sm",
        id::SUBMIT_SM_RESP => "submit_sm_resp",
        id::DELIVER_SM => "deliver_sm",
        id::DELIVER_SM_RESP => "deliver_sm_resp",
        id::UNBIND => "unbind",
        id::UNBIND_RESP => "unbind_resp",
        id::REPLACE_SM => "replace_sm",
        id::REPLACE_SM_RESP => "replace_sm_resp",
        id::CANCEL_SM => "cancel_sm",
        id::CANCEL_SM_RESP => "cancel_sm_resp",
        id::BIND_TRANSCEIVER => "bind_transceiver",
        id::BIND_TRANSCEIVER_RESP => "bind_transceiver_resp",
        id::OUTBIND => "outbind",
        id::ENQUIRE_LINK => "enquire_link",
        id::ENQUIRE_LINK_RESP => "enquire_link_resp",
        id::SUBMIT_MULTI => "submit_multi",
        id::SUBMIT_MULTI_RESP => "submit_multi_resp",
        id::ALERT_NOTIFICATION => "alert_notification",
        id::DATA_SM => "data_sm",
        id::DATA_SM_RESP => "data_sm_resp",
        _ => return None,
    })
}

/// A PDU with its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub status: CommandStatus,
    pub sequence: u32,
    pub pdu: Pdu,
}

/// A PDU that could not be decoded, with what to answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {reason} (answer {status})", command_name(*command_id).unwrap_or("unknown command"))]
pub struct DecodeError {
    pub command_id: u32,
    pub sequence: u32,
    pub status: CommandStatus,
    pub reason: String,
}

impl DecodeError {
    /// What to send back: the request's `_resp` with the error status, or `generic_nack` for an
    /// unknown command. `None` for a response we could not read (responses are not answered).
    pub fn response(&self) -> Option<Frame> {
        let pdu = match self.command_id {
            id::BIND_TRANSMITTER => Pdu::BindTransmitterResp(BindResp::default()),
            id::BIND_RECEIVER => Pdu::BindReceiverResp(BindResp::default()),
            id::BIND_TRANSCEIVER => Pdu::BindTransceiverResp(BindResp::default()),
            id::SUBMIT_SM => Pdu::SubmitSmResp(SmResp::default()),
            id::DELIVER_SM => Pdu::DeliverSmResp(SmResp::default()),
            id::DATA_SM => Pdu::DataSmResp(SmResp::default()),
            id::SUBMIT_MULTI => Pdu::SubmitMultiResp(SubmitMultiResp::default()),
            id::QUERY_SM => Pdu::QuerySmResp(QuerySmResp::default()),
            id::CANCEL_SM => Pdu::CancelSmResp,
            id::REPLACE_SM => Pdu::ReplaceSmResp,
            id::UNBIND => Pdu::UnbindResp,
            id::ENQUIRE_LINK => Pdu::EnquireLinkResp,
            // outbind and alert_notification have no response; nor do responses.
            id::OUTBIND | id::ALERT_NOTIFICATION => return None,
            c if c & 0x8000_0000 != 0 && command_name(c).is_some() => return None,
            _ => Pdu::GenericNack,
        };
        Some(Frame {
            status: self.status,
            sequence: self.sequence,
            pdu,
        })
    }
}

impl Frame {
    pub fn new(sequence: u32, pdu: Pdu) -> Self {
        Self {
            status: CommandStatus::ESME_ROK,
            sequence,
            pdu,
        }
    }

    /// A response to request `sequence` with `status`.
    pub fn response(sequence: u32, status: CommandStatus, pdu: Pdu) -> Self {
        Self {
            status,
            sequence,
            pdu,
        }
    }

    /// Appends the encoded PDU to `out`.
    pub fn encode(&self, out: &mut BytesMut) {
        let start = out.len();
        out.put_u32(0); // command_length, patched below
        out.put_u32(self.pdu.command_id());
        out.put_u32(self.status.0);
        out.put_u32(self.sequence);
        self.pdu.write_body(out);
        let len = (out.len() - start) as u32;
        out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// The encoded PDU.
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::with_capacity(64);
        self.encode(&mut out);
        out
    }

    /// Decodes one complete PDU (header included, `command_length` already checked by framing).
    pub fn decode(pdu: &[u8]) -> Result<Frame, DecodeError> {
        if pdu.len() < HEADER_LEN {
            return Err(DecodeError {
                command_id: 0,
                sequence: 0,
                status: CommandStatus::ESME_RINVCMDLEN,
                reason: format!("{} bytes is shorter than a PDU header", pdu.len()),
            });
        }
        let word = |i: usize| u32::from_be_bytes([pdu[i], pdu[i + 1], pdu[i + 2], pdu[i + 3]]);
        let (length, command_id, status, sequence) = (word(0), word(4), CommandStatus(word(8)), word(12));
        let fail = |status: CommandStatus, reason: String| DecodeError {
            command_id,
            sequence,
            status,
            reason,
        };
        if length as usize != pdu.len() {
            return Err(fail(
                CommandStatus::ESME_RINVCMDLEN,
                format!("command_length {length} but the PDU has {} bytes", pdu.len()),
            ));
        }
        let mut r = Reader::new(&pdu[HEADER_LEN..]);
        let body = decode_body(command_id, &mut r).map_err(|e| match e {
            BodyError::UnknownCommand => fail(
                CommandStatus::ESME_RINVCMDID,
                format!("unknown command_id 0x{command_id:08X}"),
            ),
            BodyError::Field(f) => fail(f.status, f.reason),
        })?;
        let pdu = body;
        if !r.is_empty() {
            return Err(fail(
                CommandStatus::ESME_RINVCMDLEN,
                format!("{} bytes after the end of the {} body", r.remaining(), pdu.name()),
            ));
        }
        Ok(Frame {
            status,
            sequence,
            pdu,
        })
    }
}

enum BodyError {
    UnknownCommand,
    Field(wire::FieldError),
}

impl From<wire::FieldError> for BodyError {
    fn from(e: wire::FieldError) -> Self {
        BodyError::Field(e)
    }
}

fn decode_body(command_id: u32, r: &mut Reader<'_>) -> Result<Pdu, BodyError> {
    Ok(match command_id {
        id::BIND_TRANSMITTER => Pdu::BindTransmitter(Bind::read(r)?),
        id::BIND_TRANSMITTER_RESP => Pdu::BindTransmitterResp(BindResp::read(r)?),
        id::BIND_RECEIVER => Pdu::BindReceiver(Bind::read(r)?),
        id::BIND_RECEIVER_RESP => Pdu::BindReceiverResp(BindResp::read(r)?),
        id::BIND_TRANSCEIVER => Pdu::BindTransceiver(Bind::read(r)?),
        id::BIND_TRANSCEIVER_RESP => Pdu::BindTransceiverResp(BindResp::read(r)?),
        id::OUTBIND => Pdu::Outbind(Outbind::read(r)?),
        id::UNBIND => Pdu::Unbind,
        id::UNBIND_RESP => Pdu::UnbindResp,
        id::ENQUIRE_LINK => Pdu::EnquireLink,
        id::ENQUIRE_LINK_RESP => Pdu::EnquireLinkResp,
        id::GENERIC_NACK => Pdu::GenericNack,
        id::SUBMIT_SM => Pdu::SubmitSm(Sm::read(r)?),
        id::SUBMIT_SM_RESP => Pdu::SubmitSmResp(SmResp::read(r)?),
        id::DELIVER_SM => Pdu::DeliverSm(Sm::read(r)?),
        id::DELIVER_SM_RESP => Pdu::DeliverSmResp(SmResp::read(r)?),
        id::DATA_SM => Pdu::DataSm(DataSm::read(r)?),
        id::DATA_SM_RESP => Pdu::DataSmResp(SmResp::read(r)?),
        id::SUBMIT_MULTI => Pdu::SubmitMulti(SubmitMulti::read(r)?),
        id::SUBMIT_MULTI_RESP => Pdu::SubmitMultiResp(SubmitMultiResp::read(r)?),
        id::QUERY_SM => Pdu::QuerySm(QuerySm::read(r)?),
        id::QUERY_SM_RESP => Pdu::QuerySmResp(QuerySmResp::read(r)?),
        id::CANCEL_SM => Pdu::CancelSm(CancelSm::read(r)?),
        id::CANCEL_SM_RESP => Pdu::CancelSmResp,
        id::REPLACE_SM => Pdu::ReplaceSm(ReplaceSm::read(r)?),
        id::REPLACE_SM_RESP => Pdu::ReplaceSmResp,
        id::ALERT_NOTIFICATION => Pdu::AlertNotification(AlertNotification::read(r)?),
        _ => return Err(BodyError::UnknownCommand),
    })
}
