//! UCS2 as SMSCs use it today: UTF-16 big-endian, surrogate pairs for characters past U+FFFF.

/// Encodes `text` as UTF-16BE.
pub fn encode(text: &str) -> Vec<u8> {
    text.encode_utf16().flat_map(u16::to_be_bytes).collect()
}

/// The length of `text` in UTF-16 units (a character past U+FFFF counts two).
pub fn unit_len(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// Decodes UTF-16BE; a lone surrogate or an odd trailing octet becomes U+FFFD.
pub fn decode(octets: &[u8]) -> String {
    let units = octets.chunks(2).map(|c| {
        if c.len() == 2 {
            u16::from_be_bytes([c[0], c[1]])
        } else {
            0xFFFD
        }
    });
    char::decode_utf16(units)
        .map(|r| r.unwrap_or('\u{FFFD}'))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn surrogate_pairs_round_trip() {
        let text = "Sawubona 👶🏽 ngiyabonga";
        assert_eq!(decode(&encode(text)), text);
        assert_eq!(unit_len("👶"), 2);
        assert_eq!(encode("👶"), [0xD8, 0x3D, 0xDC, 0x76]);
    }

    #[test]
    fn broken_input_is_replaced_not_fatal() {
        assert_eq!(decode(&[0xD8, 0x3D]), "\u{FFFD}");
        assert_eq!(decode(&[0x00, 0x41, 0x00]), "A\u{FFFD}");
    }
}
