//! Fuzz target for PDU decoding: `cargo fuzz run --fuzz-dir services/smpp/fuzz decode`.
//!
//! Whatever the bytes: framing never panics or over-allocates; a PDU that decodes re-encodes
//! to one that decodes the same; an error names a response that itself decodes.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use seedgate_smpp::{Frame, SmppCodec};
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    match Frame::decode(data) {
        Ok(frame) => assert_eq!(Frame::decode(&frame.to_bytes()).ok(), Some(frame)),
        Err(e) => {
            if let Some(resp) = e.response() {
                assert!(Frame::decode(&resp.to_bytes()).is_ok());
            }
        }
    }
    let mut codec = SmppCodec::new(4096);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(_)) = codec.decode(&mut buf) {}
    // Growth is amortised (a buffer may double), but never beyond twice the largest PDU
    // allowed: no length from the peer is trusted before it is checked.
    assert!(buf.capacity() <= 2 * data.len().max(4096) + 64, "capacity {}", buf.capacity());
});
