//! Reading and writing the SMPP field types: integers, C-Octet strings, octet strings.
//!
//! Lenient where carriers are sloppy: C-Octet strings longer than the specification's maximum
//! are accepted, and bytes that are not UTF-8 are read as Latin-1. Strict where safety needs
//! it: every read is bounded by the PDU, and a string without its NUL terminator is an error.

use bytes::{BufMut, BytesMut};

use crate::status::CommandStatus;

/// Why a field could not be read, and the status to answer with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: &'static str,
    pub status: CommandStatus,
    pub reason: String,
}

pub(crate) fn field_error(
    field: &'static str,
    status: CommandStatus,
    reason: impl Into<String>,
) -> FieldError {
    FieldError {
        field,
        status,
        reason: reason.into(),
    }
}

/// A cursor over one PDU body.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FieldError> {
        if self.remaining() < n {
            return Err(field_error(
                field,
                CommandStatus::ESME_RINVCMDLEN,
                format!("{field}: needs {n} bytes, {} left in the PDU", self.remaining()),
            ));
        }
        let out = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, FieldError> {
        Ok(self.take(1, field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, FieldError> {
        let b = self.take(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FieldError> {
        let b = self.take(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn octets(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FieldError> {
        self.take(n, field)
    }

    /// A C-Octet string: bytes up to a NUL, which is consumed.
    pub(crate) fn cstr(&mut self, field: &'static str) -> Result<String, FieldError> {
        let rest = &self.buf[self.pos..];
        let Some(end) = rest.iter().position(|b| *b == 0) else {
            return Err(field_error(
                field,
                CommandStatus::ESME_RINVCMDLEN,
                format!("{field}: C-Octet string without its NUL terminator"),
            ));
        };
        self.pos += end + 1;
        Ok(text_of(&rest[..end]))
    }
}

/// UTF-8 if it is, Latin-1 otherwise (carriers send both in address fields).
pub(crate) fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|b| char::from(*b)).collect(),
    }
}

/// Writes a C-Octet string: the text's bytes (Latin-1 where every char fits, else UTF-8) and NUL.
pub(crate) fn put_cstr(out: &mut BytesMut, s: &str) {
    if s.chars().all(|c| (c as u32) < 0x100) && !s.is_ascii() {
        out.extend(s.chars().map(|c| c as u8));
    } else {
        out.put_slice(s.as_bytes());
    }
    out.put_u8(0);
}
