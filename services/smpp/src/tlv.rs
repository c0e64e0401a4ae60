//! Optional parameters (TLVs). Standard tags are known by name and kind; their lengths are
//! checked on decode (a wrong length is `ESME_RINVPARLEN`); typed accessors read the ones the
//! gateway uses. Unknown and vendor tags are kept raw, in order, and written back unchanged.

use bytes::{BufMut, Bytes, BytesMut};

use crate::pdu::wire::{field_error, text_of, FieldError, Reader};
use crate::status::CommandStatus;

/// The value kind of a standard tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    U8,
    U16,
    U32,
    /// A NUL-terminated string.
    CStr,
    /// Octets of any length.
    Octets,
    /// Exactly this many octets.
    Fixed(usize),
}

macro_rules! tags {
    ($($name:ident = $tag:expr, $kind:expr;)*) => {
        /// Standard SMPP 3.4 optional parameter tags (section 5.3.2).
        pub mod tag {
            $(pub const $name: u16 = $tag;)*
        }

        /// The name and kind of a standard tag.
        pub fn describe(tag: u16) -> Option<(&'static str, Kind)> {
            match tag {
                $($tag => Some((stringify!($name), $kind)),)*
                _ => None,
            }
        }
    };
}

tags! {
    DEST_ADDR_SUBUNIT = 0x0005, Kind::U8;
    DEST_NETWORK_TYPE = 0x0006, Kind::U8;
    DEST_BEARER_TYPE = 0x0007, Kind::U8;
    DEST_TELEMATICS_ID = 0x0008, Kind::U16;
    SOURCE_ADDR_SUBUNIT = 0x000D, Kind::U8;
    SOURCE_NETWORK_TYPE = 0x000E, Kind::U8;
    SOURCE_BEARER_TYPE = 0x000F, Kind::U8;
    SOURCE_TELEMATICS_ID = 0x0010, Kind::U8;
    QOS_TIME_TO_LIVE = 0x0017, Kind::U32;
    PAYLOAD_TYPE = 0x0019, Kind::U8;
    ADDITIONAL_STATUS_INFO_TEXT = 0x001D, Kind::CStr;
    RECEIPTED_MESSAGE_ID = 0x001E, Kind::CStr;
    MS_MSG_WAIT_FACILITIES = 0x0030, Kind::U8;
    PRIVACY_INDICATOR = 0x0201, Kind::U8;
    SOURCE_SUBADDRESS = 0x0202, Kind::Octets;
    DEST_SUBADDRESS = 0x0203, Kind::Octets;
    USER_MESSAGE_REFERENCE = 0x0204, Kind::U16;
    USER_RESPONSE_CODE = 0x0205, Kind::U8;
    SOURCE_PORT = 0x020A, Kind::U16;
    DESTINATION_PORT = 0x020B, Kind::U16;
    SAR_MSG_REF_NUM = 0x020C, Kind::U16;
    LANGUAGE_INDICATOR = 0x020D, Kind::U8;
    SAR_TOTAL_SEGMENTS = 0x020E, Kind::U8;
    SAR_SEGMENT_SEQNUM = 0x020F, Kind::U8;
    SC_INTERFACE_VERSION = 0x0210, Kind::U8;
    CALLBACK_NUM_PRES_IND = 0x0302, Kind::U8;
    CALLBACK_NUM_ATAG = 0x0303, Kind::Octets;
    NUMBER_OF_MESSAGES = 0x0304, Kind::U8;
    CALLBACK_NUM = 0x0381, Kind::Octets;
    DPF_RESULT = 0x0420, Kind::U8;
    SET_DPF = 0x0421, Kind::U8;
    MS_AVAILABILITY_STATUS = 0x0422, Kind::U8;
    NETWORK_ERROR_CODE = 0x0423, Kind::Fixed(3);
    MESSAGE_PAYLOAD = 0x0424, Kind::Octets;
    DELIVERY_FAILURE_REASON = 0x0425, Kind::U8;
    MORE_MESSAGES_TO_SEND = 0x0426, Kind::U8;
    MESSAGE_STATE = 0x0427, Kind::U8;
    USSD_SERVICE_OP = 0x0501, Kind::U8;
    DISPLAY_TIME = 0x1201, Kind::U8;
    SMS_SIGNAL = 0x1203, Kind::U16;
    MS_VALIDITY = 0x1204, Kind::U8;
    ALERT_ON_MESSAGE_DELIVERY = 0x130C, Kind::Octets;
    ITS_REPLY_TYPE = 0x1380, Kind::U8;
    ITS_SESSION_INFO = 0x1383, Kind::Fixed(2);
}

/// One optional parameter as it travels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    pub tag: u16,
    pub value: Bytes,
}

/// The optional parameters of a PDU, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tlvs(pub Vec<Tlv>);

fn length_ok(tag: u16, kind: Kind, len: usize) -> bool {
    match kind {
        // Some USSD gateways send ussd_service_op as two octets; take it.
        Kind::U8 if tag == tag::USSD_SERVICE_OP => len == 1 || len == 2,
        Kind::U8 => len == 1,
        Kind::U16 => len == 2,
        Kind::U32 => len == 4,
        Kind::Fixed(n) => len == n,
        Kind::CStr | Kind::Octets => true,
    }
}

impl Tlvs {
    /// Reads TLVs until the end of the body.
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, FieldError> {
        let mut out = Vec::new();
        while !r.is_empty() {
            if r.remaining() < 4 {
                return Err(field_error(
                    "tlv",
                    CommandStatus::ESME_RINVOPTPARSTREAM,
                    format!("{} stray bytes after the last optional parameter", r.remaining()),
                ));
            }
            let tag = r.u16("tlv tag")?;
            let len = usize::from(r.u16("tlv length")?);
            if len > r.remaining() {
                return Err(field_error(
                    "tlv",
                    CommandStatus::ESME_RINVOPTPARSTREAM,
                    format!(
                        "optional parameter 0x{tag:04X} claims {len} bytes, {} left",
                        r.remaining()
                    ),
                ));
            }
            let value = r.octets(len, "tlv value")?;
            if let Some((name, kind)) = describe(tag) {
                if !length_ok(tag, kind, len) {
                    return Err(field_error(
                        "tlv",
                        CommandStatus::ESME_RINVPARLEN,
                        format!(
                            "optional parameter {name} (0x{tag:04X}) has length {len}, expected {kind:?}"
                        ),
                    ));
                }
            }
            out.push(Tlv {
                tag,
                value: Bytes::copy_from_slice(value),
            });
        }
        Ok(Self(out))
    }

    pub(crate) fn write(&self, out: &mut BytesMut) {
        for t in &self.0 {
            out.put_u16(t.tag);
            out.put_u16(t.value.len() as u16);
            out.put_slice(&t.value);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value of `tag`.
    pub fn get(&self, tag: u16) -> Option<&[u8]> {
        self.0.iter().find(|t| t.tag == tag).map(|t| t.value.as_ref())
    }

    /// Sets `tag` (replacing an earlier value).
    pub fn set(&mut self, tag: u16, value: impl Into<Bytes>) {
        let value = value.into();
        match self.0.iter_mut().find(|t| t.tag == tag) {
            Some(t) => t.value = value,
            None => self.0.push(Tlv { tag, value }),
        }
    }

    pub fn with(mut self, tag: u16, value: impl Into<Bytes>) -> Self {
        self.set(tag, value);
        self
    }

    pub fn u8(&self, tag: u16) -> Option<u8> {
        self.get(tag).and_then(|v| v.last().copied())
    }

    pub fn u16(&self, tag: u16) -> Option<u16> {
        self.get(tag)
            .filter(|v| v.len() == 2)
            .map(|v| u16::from_be_bytes([v[0], v[1]]))
    }

    /// A C-Octet string value, without its NUL (tolerating a missing one).
    pub fn cstr(&self, tag: u16) -> Option<String> {
        self.get(tag).map(|v| text_of(v.strip_suffix(&[0]).unwrap_or(v)))
    }

    pub fn message_payload(&self) -> Option<&[u8]> {
        self.get(tag::MESSAGE_PAYLOAD)
    }

    pub fn receipted_message_id(&self) -> Option<String> {
        self.cstr(tag::RECEIPTED_MESSAGE_ID)
    }

    pub fn message_state(&self) -> Option<u8> {
        self.u8(tag::MESSAGE_STATE)
    }

    /// (reference, total, sequence) from the SAR parameters, if all three are present.
    pub fn sar(&self) -> Option<(u16, u8, u8)> {
        Some((
            self.u16(tag::SAR_MSG_REF_NUM)?,
            self.u8(tag::SAR_TOTAL_SEGMENTS)?,
            self.u8(tag::SAR_SEGMENT_SEQNUM)?,
        ))
    }

    /// The USSD operation (the low octet where a gateway sends two).
    pub fn ussd_service_op(&self) -> Option<u8> {
        self.u8(tag::USSD_SERVICE_OP)
    }

    /// `its_session_info`: (session number, end-of-session flag).
    pub fn its_session_info(&self) -> Option<(u8, bool)> {
        self.get(tag::ITS_SESSION_INFO)
            .filter(|v| v.len() == 2)
            .map(|v| (v[0], v[1] & 1 == 1))
    }

    /// A C-Octet string value with its NUL, for `set`.
    pub fn cstr_value(s: &str) -> Bytes {
        let mut v = BytesMut::with_capacity(s.len() + 1);
        crate::pdu::wire::put_cstr(&mut v, s);
        v.freeze()
    }
}
