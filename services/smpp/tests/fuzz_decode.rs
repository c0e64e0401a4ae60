//! Property tests where bytes come from strangers: decoding never panics, never reads past the
//! PDU, and anything that decodes re-encodes to a PDU that decodes the same.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use bytes::BytesMut;
use proptest::prelude::*;
use seedgate_smpp::pdu::command_id;
use seedgate_smpp::{Frame, SmppCodec};
use tokio_util::codec::Decoder;

const IDS: [u32; 27] = [
    command_id::GENERIC_NACK,
    command_id::BIND_RECEIVER,
    command_id::BIND_RECEIVER_RESP,
    command_id::BIND_TRANSMITTER,
    command_id::BIND_TRANSMITTER_RESP,
    command_id::QUERY_SM,
    command_id::QUERY_SM_RESP,
    command_id::SUBMIT_SM,
    command_id::SUBMIT_SM_RESP,
    command_id::DELIVER_SM,
    command_id::DELIVER_SM_RESP,
    command_id::UNBIND,
    command_id::UNBIND_RESP,
    command_id::REPLACE_SM,
    command_id::REPLACE_SM_RESP,
    command_id::CANCEL_SM,
    command_id::CANCEL_SM_RESP,
    command_id::BIND_TRANSCEIVER,
    command_id::BIND_TRANSCEIVER_RESP,
    command_id::OUTBIND,
    command_id::ENQUIRE_LINK,
    command_id::ENQUIRE_LINK_RESP,
    command_id::SUBMIT_MULTI,
    command_id::SUBMIT_MULTI_RESP,
    command_id::ALERT_NOTIFICATION,
    command_id::DATA_SM,
    command_id::DATA_SM_RESP,
];

fn pdu_with(command: u32, body: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(16 + body.len());
    b.extend(((16 + body.len()) as u32).to_be_bytes());
    b.extend(command.to_be_bytes());
    b.extend(0u32.to_be_bytes());
    b.extend(1u32.to_be_bytes());
    b.extend(body);
    b
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn any_body_under_any_known_command_decodes_or_errs(idx in 0usize..27, body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let bytes = pdu_with(IDS[idx], &body);
        match Frame::decode(&bytes) {
            Ok(frame) => {
                let again = Frame::decode(&frame.to_bytes()).unwrap();
                prop_assert_eq!(again, frame);
            }
            Err(e) => {
                prop_assert_eq!(e.sequence, 1);
                if let Some(resp) = e.response() {
                    prop_assert_eq!(resp.sequence, 1);
                    prop_assert!(Frame::decode(&resp.to_bytes()).is_ok());
                }
            }
        }
    }

    #[test]
    fn any_byte_stream_frames_or_fails_cleanly(stream in proptest::collection::vec(any::<u8>(), 0..2000)) {
        let mut codec = SmppCodec::new(512);
        let mut buf = BytesMut::from(&stream[..]);
        // Each step either consumes a PDU, waits for more, or stops the stream.
        for _ in 0..stream.len() + 1 {
            match codec.decode(&mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
        // Amortised growth may double a buffer, never beyond twice the max PDU.
        prop_assert!(buf.capacity() <= 2 * stream.len().max(512) + 64, "allocation stays bounded by the max PDU");
    }
}
