//! GSM 03.38 default alphabet and extension table.

/// The default alphabet, by septet value.
const DEFAULT: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The escape septet that announces an extension-table character.
pub const ESCAPE: u8 = 0x1B;

/// The extension table: (septet after ESC, character).
const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// The septets of one character: one, or two for an extension character; `None` if the
/// character is not in the GSM alphabet.
pub fn septets(c: char) -> Option<&'static [u8]> {
    // Built once: a character → septets lookup for the two tables.
    static TABLE: std::sync::OnceLock<std::collections::HashMap<char, Vec<u8>>> = std::sync::OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut m = std::collections::HashMap::with_capacity(140);
        for (i, ch) in DEFAULT.iter().enumerate() {
            if *ch != '\u{1B}' {
                m.insert(*ch, vec![i as u8]);
            }
        }
        for (code, ch) in EXTENSION {
            m.insert(ch, vec![ESCAPE, code]);
        }
        m
    });
    table.get(&c).map(Vec::as_slice)
}

/// Whether every character of `text` is in the GSM alphabet.
pub fn fits(text: &str) -> bool {
    text.chars().all(|c| septets(c).is_some())
}

/// The length of `text` in septets (extension characters count two), if it fits.
pub fn septet_len(text: &str) -> Option<usize> {
    text.chars().map(|c| septets(c).map(<[u8]>::len)).sum()
}

/// Encodes `text` as unpacked septets (one per octet), if every character fits.
pub fn encode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        out.extend_from_slice(septets(c)?);
    }
    Some(out)
}

/// Decodes unpacked septets. An unknown escape shows the base character (as 03.38 says); a
/// trailing escape or an octet over 0x7F becomes U+FFFD.
pub fn decode(septets: &[u8]) -> String {
    let mut out = String::with_capacity(septets.len());
    let mut it = septets.iter().copied();
    while let Some(s) = it.next() {
        if s == ESCAPE {
            match it.next() {
                Some(next) => match EXTENSION.iter().find(|(code, _)| *code == next) {
                    Some((_, c)) => out.push(*c),
                    None => out.push(DEFAULT.get(usize::from(next)).copied().unwrap_or('\u{FFFD}')),
                },
                None => out.push('\u{FFFD}'),
            }
        } else {
            out.push(DEFAULT.get(usize::from(s)).copied().unwrap_or('\u{FFFD}'));
        }
    }
    out
}

/// Packs septets 8-into-7 for the air interface (or SMSCs that want packed GSM).
pub fn pack(septets: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(septets.len() * 7 / 8 + 1);
    let (mut acc, mut bits) = (0u32, 0u32);
    for s in septets {
        acc |= u32::from(s & 0x7F) << bits;
        bits += 7;
        while bits >= 8 {
            out.push((acc & 0xFF) as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push((acc & 0xFF) as u8);
    }
    out
}

/// Unpacks `count` septets from packed octets.
pub fn unpack(octets: &[u8], count: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(count);
    let (mut acc, mut bits) = (0u32, 0u32);
    for o in octets {
        acc |= u32::from(*o) << bits;
        bits += 8;
        while bits >= 7 && out.len() < count {
            out.push((acc & 0x7F) as u8);
            acc >>= 7;
            bits -= 7;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_and_extension_character_round_trips() {
        let all: String = DEFAULT
            .iter()
            .filter(|c| **c != '\u{1B}')
            .chain(EXTENSION.iter().map(|(_, c)| c))
            .collect();
        let enc = encode(&all).unwrap();
        assert_eq!(enc.len(), 127 + 2 * 10);
        assert_eq!(decode(&enc), all);
    }

    #[test]
    fn escapes_count_double_and_foreign_characters_do_not_fit() {
        assert_eq!(septet_len("Hello"), Some(5));
        assert_eq!(septet_len("€10 [ok]"), Some(11));
        assert_eq!(septet_len("Sawubona 😀"), None);
        assert!(!fits("ŋ"));
        assert!(fits("Ngiyabonga, Ñoño"));
        assert!(!fits("Ñandú"), "ú is not in GSM 03.38 (ù is)");
    }

    #[test]
    fn decoding_is_total() {
        assert_eq!(decode(&[0x1B]), "\u{FFFD}");
        assert_eq!(decode(&[0x80]), "\u{FFFD}");
        assert_eq!(
            decode(&[0x1B, 0x41]),
            "A",
            "an unknown escape shows the base character"
        );
    }

    #[test]
    fn packing_matches_the_spec_example() {
        // "hellohello" packed, 3GPP TS 23.038 6.1.2.1.1.
        let packed = pack(&encode("hellohello").unwrap());
        assert_eq!(packed, [0xE8, 0x32, 0x9B, 0xFD, 0x46, 0x97, 0xD9, 0xEC, 0x37]);
        assert_eq!(decode(&unpack(&packed, 10)), "hellohello");
    }
}
