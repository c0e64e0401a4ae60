//! Choosing a coding and splitting text into SMS parts.
//!
//! Limits, in characters of the chosen coding: GSM 160 for one part, 153 per part of a longer
//! message (152 with a 16-bit reference); UCS2 70 and 67 (66). An extension character counts two
//! GSM septets and a character past U+FFFF two UTF-16 units; neither is ever cut in half.
//! With SAR TLVs the SMSC builds the headers, so the same per-part limits apply; with
//! `message_payload` the whole text travels in one PDU.

use super::{data_coding, gsm7, ucs2};

/// How a long message travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concat {
    /// User data header with an 8-bit reference (the most widely accepted).
    Udh8,
    /// User data header with a 16-bit reference.
    Udh16,
    /// `sar_msg_ref_num` / `sar_total_segments` / `sar_segment_seqnum` TLVs.
    Sar,
    /// One PDU with the whole text in `message_payload`.
    Payload,
}

/// One part, ready for a submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub data_coding: u8,
    /// Set `esm_class` bit 0x40 (UDHI): `short_message` starts with a UDH.
    pub udhi: bool,
    /// The octets for `short_message`, or for `message_payload` with [`Concat::Payload`].
    pub octets: Vec<u8>,
    /// (reference, total, sequence) for the SAR TLVs.
    pub sar: Option<(u16, u8, u8)>,
    /// The text of this part, for logs and tests.
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SplitError {
    #[error("the text needs {0} parts; a message has at most 255")]
    TooLong(usize),
}

/// The coding a text needs: GSM 03.38 when every character fits, UCS2 otherwise.
pub fn coding_for(text: &str) -> u8 {
    if gsm7::fits(text) {
        data_coding::DEFAULT
    } else {
        data_coding::UCS2
    }
}

/// (single-part limit, per-part limit) in units of `coding` for `concat`.
fn limits(coding: u8, concat: Concat) -> (usize, usize) {
    match (coding == data_coding::UCS2, concat) {
        (false, Concat::Udh16) => (160, 152),
        (false, _) => (160, 153),
        (true, Concat::Udh16) => (70, 66),
        (true, _) => (70, 67),
    }
}

fn units(coding: u8, c: char) -> usize {
    if coding == data_coding::UCS2 {
        c.len_utf16()
    } else {
        gsm7::septets(c).map_or(1, <[u8]>::len)
    }
}

fn encode(coding: u8, text: &str) -> Vec<u8> {
    if coding == data_coding::UCS2 {
        ucs2::encode(text)
    } else {
        gsm7::encode(text).unwrap_or_default()
    }
}

/// Splits `text` into parts; `reference` identifies the message among its parts.
pub fn split(text: &str, concat: Concat, reference: u16) -> Result<Vec<Part>, SplitError> {
    let coding = coding_for(text);
    let (single, per_part) = limits(coding, concat);
    let total_units: usize = text.chars().map(|c| units(coding, c)).sum();
    if concat == Concat::Payload || total_units <= single {
        return Ok(vec![Part {
            data_coding: coding,
            udhi: false,
            octets: encode(coding, text),
            sar: None,
            text: text.to_string(),
        }]);
    }
    let mut chunks: Vec<String> = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let n = units(coding, c);
        if used + n > per_part {
            chunks.push(String::new());
            used = 0;
        }
        used += n;
        if let Some(last) = chunks.last_mut() {
            last.push(c);
        }
    }
    let total = u8::try_from(chunks.len()).map_err(|_| SplitError::TooLong(chunks.len()))?;
    Ok(chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let seq = i as u8 + 1;
            let body = encode(coding, &chunk);
            let (udhi, octets, sar) = match concat {
                Concat::Udh8 => (
                    true,
                    [&[0x05, 0x00, 0x03, reference as u8, total, seq][..], &body].concat(),
                    None,
                ),
                Concat::Udh16 => {
                    let [hi, lo] = reference.to_be_bytes();
                    (
                        true,
                        [&[0x06, 0x08, 0x04, hi, lo, total, seq][..], &body].concat(),
                        None,
                    )
                }
                Concat::Sar | Concat::Payload => (false, body, Some((reference, total, seq))),
            };
            Part {
                data_coding: coding,
                udhi,
                octets,
                sar,
                text: chunk,
            }
        })
        .collect())
}

/// A concatenation header found at the start of `short_message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concatenated {
    pub reference: u16,
    pub total: u8,
    pub seq: u8,
}

/// Reads a UDH (when `udhi` is set): the concatenation element if any, and the text octets
/// after the header. A header that does not fit is treated as no header.
pub fn parse_udh(udhi: bool, octets: &[u8]) -> (Option<Concatenated>, &[u8]) {
    if !udhi || octets.is_empty() {
        return (None, octets);
    }
    let udhl = usize::from(octets[0]);
    if udhl + 1 > octets.len() {
        return (None, octets);
    }
    let (header, rest) = (&octets[1..=udhl], &octets[udhl + 1..]);
    let mut found = None;
    let mut i = 0;
    while i + 2 <= header.len() {
        let (iei, len) = (header[i], usize::from(header[i + 1]));
        let Some(data) = header.get(i + 2..i + 2 + len) else {
            break;
        };
        match (iei, data) {
            (0x00, [r, t, s]) => {
                found = Some(Concatenated {
                    reference: u16::from(*r),
                    total: *t,
                    seq: *s,
                })
            }
            (0x08, [hi, lo, t, s]) => {
                found = Some(Concatenated {
                    reference: u16::from_be_bytes([*hi, *lo]),
                    total: *t,
                    seq: *s,
                })
            }
            _ => {}
        }
        i += 2 + len;
    }
    (found, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::decode;

    fn texts(parts: &[Part]) -> Vec<usize> {
        parts.iter().map(|p| p.text.chars().count()).collect()
    }

    #[test]
    fn gsm_limits_are_160_and_153() {
        assert_eq!(texts(&split(&"a".repeat(160), Concat::Udh8, 1).unwrap()), [160]);
        assert_eq!(
            texts(&split(&"a".repeat(161), Concat::Udh8, 1).unwrap()),
            [153, 8]
        );
        assert_eq!(
            texts(&split(&"a".repeat(306), Concat::Udh8, 1).unwrap()),
            [153, 153]
        );
        assert_eq!(
            texts(&split(&"a".repeat(161), Concat::Udh16, 1).unwrap()),
            [152, 9]
        );
        assert_eq!(texts(&split(&"a".repeat(161), Concat::Sar, 1).unwrap()), [153, 8]);
        assert_eq!(
            texts(&split(&"a".repeat(500), Concat::Payload, 1).unwrap()),
            [500]
        );
    }

    #[test]
    fn escapes_count_double_and_are_never_cut() {
        // 159 + one € (2 septets) = 161 septets: two parts, 153 septets then 8.
        assert_eq!(
            texts(&split(&format!("{}€", "a".repeat(159)), Concat::Udh8, 1).unwrap()),
            [153, 7]
        );
        // 158 + € = 160 septets: still one part.
        assert_eq!(
            texts(&split(&format!("{}€", "a".repeat(158)), Concat::Udh8, 1).unwrap()),
            [159]
        );
        // 152 + € would be 154 septets in the first part: the € moves on whole.
        let parts = split(
            &format!("{}€{}", "a".repeat(152), "b".repeat(10)),
            Concat::Udh8,
            1,
        )
        .unwrap();
        assert_eq!(texts(&parts), [152, 11]);
        assert_eq!(
            parts[1].octets[6..8],
            [0x1B, 0x65],
            "the escape and its septet stay together"
        );
    }

    #[test]
    fn ucs2_limits_are_70_and_67_and_pairs_stay_whole() {
        assert_eq!(texts(&split(&"ŋ".repeat(70), Concat::Udh8, 1).unwrap()), [70]);
        assert_eq!(texts(&split(&"ŋ".repeat(71), Concat::Udh8, 1).unwrap()), [67, 4]);
        assert_eq!(
            texts(&split(&format!("{}👶", "ŋ".repeat(68)), Concat::Udh8, 1).unwrap()),
            [69],
            "70 units fit one part"
        );
        let parts = split(&format!("{}👶{}", "ŋ".repeat(66), "ŋ".repeat(5)), Concat::Udh8, 1).unwrap();
        assert_eq!(texts(&parts), [66, 6], "66 units + a 2-unit pair would be 68");
        assert_eq!(decode(8, &parts[1].octets[6..]), "👶ŋŋŋŋŋ");
    }

    #[test]
    fn headers_carry_reference_total_and_sequence() {
        let parts = split(&"x".repeat(400), Concat::Udh8, 0x1AB).unwrap();
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[2].octets[..6], [0x05, 0x00, 0x03, 0xAB, 3, 3]);
        assert!(parts.iter().all(|p| p.udhi && p.data_coding == 0));
        let parts = split(&"x".repeat(400), Concat::Udh16, 0x1AB).unwrap();
        assert_eq!(parts[0].octets[..7], [0x06, 0x08, 0x04, 0x01, 0xAB, 3, 1]);
        let (c, rest) = parse_udh(true, &parts[0].octets);
        assert_eq!(
            c,
            Some(Concatenated {
                reference: 0x1AB,
                total: 3,
                seq: 1
            })
        );
        assert_eq!(rest.len(), 152);
        let parts = split(&"x".repeat(400), Concat::Sar, 7).unwrap();
        assert_eq!(
            parts.iter().map(|p| p.sar).collect::<Vec<_>>(),
            [Some((7, 3, 1)), Some((7, 3, 2)), Some((7, 3, 3))]
        );
    }

    #[test]
    fn too_long_is_an_error() {
        assert_eq!(
            split(&"a".repeat(153 * 256), Concat::Udh8, 1),
            Err(SplitError::TooLong(256))
        );
    }

    #[test]
    fn malformed_udh_is_ignored_safely() {
        assert_eq!(parse_udh(true, &[9, 0, 3]).0, None);
        assert_eq!(parse_udh(true, &[5, 0, 9, 1, 2, 3, b'h']).0, None);
        assert_eq!(parse_udh(false, b"hi").1, b"hi");
    }
}
