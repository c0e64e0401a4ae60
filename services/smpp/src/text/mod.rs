//! Text on the air interface.
//!
//! - [`gsm7`]: the GSM 03.38 default alphabet and its extension table (unpacked septets, as
//!   SMPP carries them with data_coding 0), plus packing for the air interface.
//! - [`ucs2`]: UCS2/UTF-16BE, surrogate pairs included.
//! - [`split`]: choosing the coding and splitting long text into parts (UDH with 8- or 16-bit
//!   reference, SAR TLVs, or one `message_payload`), counting GSM characters (an escape
//!   counts two) and UTF-16 units, never cutting an escape or a surrogate pair.
//! - [`reassembly`]: putting MO parts back together: out of order, duplicated, or never
//!   complete (bounded memory, TTL).

pub mod gsm7;
pub mod reassembly;
pub mod split;
pub mod ucs2;

/// SMPP `data_coding` values the gateway speaks.
pub mod data_coding {
    /// SMSC default alphabet: GSM 03.38 on every SMSC we know of.
    pub const DEFAULT: u8 = 0x00;
    /// IA5 (ASCII).
    pub const IA5: u8 = 0x01;
    /// 8-bit binary.
    pub const BINARY: u8 = 0x04;
    /// Latin-1 (ISO-8859-1).
    pub const LATIN1: u8 = 0x03;
    /// UCS2 (UTF-16BE).
    pub const UCS2: u8 = 0x08;
}

/// Decodes message octets by their `data_coding`; never fails (bad input becomes U+FFFD).
pub fn decode(data_coding: u8, octets: &[u8]) -> String {
    match data_coding {
        data_coding::DEFAULT => gsm7::decode(octets),
        data_coding::UCS2 => ucs2::decode(octets),
        data_coding::IA5 => octets
            .iter()
            .map(|b| if *b < 0x80 { char::from(*b) } else { '\u{FFFD}' })
            .collect(),
        // Latin-1, and binary shown as Latin-1 so nothing is lost in logs or the store.
        _ => octets.iter().map(|b| char::from(*b)).collect(),
    }
}

/// Encodes `text` as Latin-1, if every character fits.
pub fn latin1(text: &str) -> Option<Vec<u8>> {
    text.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}
