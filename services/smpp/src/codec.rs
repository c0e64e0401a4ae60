//! Framing: cuts the byte stream into PDUs by `command_length`, before anything is allocated.
//!
//! A `command_length` under 16 or over the configured maximum cannot be resynchronised (the
//! next PDU's start is unknown), so it is a [`FramingError`] and the connection must close after
//! a `generic_nack`. Everything inside a well-framed PDU is the decoder's business: a complete
//! PDU comes out as `Ok(Ok(frame))` or `Ok(Err(decode_error))`, and the stream goes on.
//!
//! Encoding appends to the write buffer; `tokio_util`'s `FramedWrite` flushes it in one write
//! for as many PDUs as were fed, so a busy bind does not pay one `write()` per PDU.

use bytes::{Buf, BytesMut};
use tokio_util::codec::{Decoder, Encoder};

use crate::pdu::{DecodeError, Frame, HEADER_LEN};

/// Default largest PDU accepted: room for a 64 KiB message_payload and its fields.
pub const DEFAULT_MAX_PDU: u32 = 70_000;

/// The stream cannot be framed any more; answer `generic_nack` and close.
#[derive(Debug, thiserror::Error)]
pub enum FramingError {
    #[error("command_length {length} is out of range 16..={max}")]
    BadLength {
        length: u32,
        max: u32,
        sequence: Option<u32>,
    },
    #[error("connection error: {0}")]
    Io(#[from] std::io::Error),
}

/// The SMPP codec for `tokio_util::codec::Framed`.
#[derive(Debug, Clone, Copy)]
pub struct SmppCodec {
    max_pdu: u32,
}

impl Default for SmppCodec {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_PDU)
    }
}

impl SmppCodec {
    pub fn new(max_pdu: u32) -> Self {
        Self {
            max_pdu: max_pdu.max(HEADER_LEN as u32),
        }
    }
}

impl Decoder for SmppCodec {
    type Item = Result<Frame, DecodeError>;
    type Error = FramingError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, FramingError> {
        if src.len() < 4 {
            return Ok(None);
        }
        let length = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        if length < HEADER_LEN as u32 || length > self.max_pdu {
            let sequence =
                (src.len() >= 16).then(|| u32::from_be_bytes([src[12], src[13], src[14], src[15]]));
            return Err(FramingError::BadLength {
                length,
                max: self.max_pdu,
                sequence,
            });
        }
        let length = length as usize;
        if src.len() < length {
            // Reserve only what this (checked, bounded) PDU still needs; amortised growth
            // keeps any buffer under twice the maximum PDU.
            src.reserve(length - src.len());
            return Ok(None);
        }
        let pdu = src.split_to(length);
        Ok(Some(Frame::decode(&pdu)))
    }

    fn decode_eof(&mut self, buf: &mut BytesMut) -> Result<Option<Self::Item>, FramingError> {
        match self.decode(buf)? {
            Some(frame) => Ok(Some(frame)),
            None => {
                // A peer that closes mid-PDU: drop the partial bytes.
                buf.advance(buf.len());
                Ok(None)
            }
        }
    }
}

impl Encoder<Frame> for SmppCodec {
    type Error = FramingError;

    fn encode(&mut self, frame: Frame, dst: &mut BytesMut) -> Result<(), FramingError> {
        frame.encode(dst);
        Ok(())
    }
}
