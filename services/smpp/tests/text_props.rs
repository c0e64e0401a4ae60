//! Property tests of splitting: whatever the text, the parts decode back to it, each part
//! stays within its limit, and escapes and surrogate pairs are never cut.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use proptest::prelude::*;
use seedgate_smpp::text::split::{parse_udh, split, Concat};
use seedgate_smpp::text::{decode, gsm7, ucs2};

fn char_strategy() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::char::range('a', 'z'),
        2 => Just(' '),
        2 => prop::sample::select(vec!['€', '[', ']', '{', '}', '~', '|', '^', '\\']),
        1 => prop::sample::select(vec!['é', 'Ñ', 'ü', '£']),
        1 => prop::sample::select(vec!['ŋ', 'ú', 'ß', 'Ω', 'ẹ']),
        1 => prop::sample::select(vec!['👶', '🤰', '🏽']),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn parts_decode_back_to_the_text_within_their_limits(
        chars in proptest::collection::vec(char_strategy(), 0..700),
        concat in prop::sample::select(vec![Concat::Udh8, Concat::Udh16, Concat::Sar]),
        reference in any::<u16>(),
    ) {
        let text: String = chars.into_iter().collect();
        let parts = split(&text, concat, reference).unwrap();
        let mut joined = String::new();
        for (i, p) in parts.iter().enumerate() {
            let (header, body) = parse_udh(p.udhi, &p.octets);
            if parts.len() > 1 && p.udhi {
                let h = header.unwrap();
                prop_assert_eq!((usize::from(h.seq), usize::from(h.total)), (i + 1, parts.len()));
            }
            let decoded = decode(p.data_coding, body);
            prop_assert_eq!(&decoded, &p.text);
            let units = if p.data_coding == 8 { ucs2::unit_len(&p.text) } else { gsm7::septet_len(&p.text).unwrap() };
            let limit = match (p.data_coding == 8, parts.len() == 1, concat) {
                (false, true, _) => 160,
                (true, true, _) => 70,
                (false, false, Concat::Udh16) => 152,
                (false, false, _) => 153,
                (true, false, Concat::Udh16) => 66,
                (true, false, _) => 67,
            };
            prop_assert!(units <= limit, "part {} has {} units, limit {}", i, units, limit);
            prop_assert!(p.octets.len() <= 140 || !p.udhi && p.data_coding == 0, "octets {}", p.octets.len());
            joined.push_str(&decoded);
        }
        prop_assert_eq!(joined, text);
    }
}
