//! The codec: every PDU round-trips, decoding survives any chunking of the stream, and a
//! malformed body is answered with the right status while the stream goes on.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use seedgate_smpp::pdu::*;
use seedgate_smpp::tlv::{tag, Tlvs};
use seedgate_smpp::{CommandStatus, Frame, FramingError, Pdu, SmppCodec};
use tokio::io::AsyncWriteExt;
use tokio_util::codec::{Decoder, FramedRead};

fn addr(a: &str) -> Address {
    Address::new(1, 1, a)
}

fn bind() -> Bind {
    Bind {
        system_id: "demo".into(),
        password: "demo".into(),
        system_type: "VMA".into(),
        interface_version: 0x34,
        addr_ton: 0,
        addr_npi: 0,
        address_range: "".into(),
    }
}

fn sm() -> Sm {
    Sm {
        service_type: "USSD".into(),
        source: addr("27820000001"),
        dest: addr("*134*550#"),
        esm_class: 0x40,
        registered_delivery: 1,
        data_coding: 0x08,
        short_message: Bytes::from_static(&[0x00, 0x48, 0x00, 0x69]),
        tlvs: Tlvs::default()
            .with(tag::USSD_SERVICE_OP, vec![1u8])
            .with(tag::ITS_SESSION_INFO, vec![7u8, 0])
            .with(0x1400, vec![0xde, 0xad]), // a vendor tag, kept raw
        ..Default::default()
    }
}

/// One of every PDU.
fn every_pdu() -> Vec<Pdu> {
    let resp = BindResp {
        system_id: "seedgate".into(),
        tlvs: Tlvs::default().with(tag::SC_INTERFACE_VERSION, vec![0x34u8]),
    };
    vec![
        Pdu::BindTransmitter(bind()),
        Pdu::BindTransmitterResp(resp.clone()),
        Pdu::BindReceiver(bind()),
        Pdu::BindReceiverResp(resp.clone()),
        Pdu::BindTransceiver(bind()),
        Pdu::BindTransceiverResp(resp),
        Pdu::Outbind(Outbind { system_id: "smsc".into(), password: "pw".into() }),
        Pdu::Unbind,
        Pdu::UnbindResp,
        Pdu::EnquireLink,
        Pdu::EnquireLinkResp,
        Pdu::GenericNack,
        Pdu::SubmitSm(sm()),
        Pdu::SubmitSmResp(SmResp::new("ab12")),
        Pdu::DeliverSm(Sm {
            esm_class: 0x04,
            short_message: Bytes::from_static(b"id:ab12 sub:001 dlvrd:001 submit date:2611250800 done date:2611250801 stat:DELIVRD err:000 text:"),
            tlvs: Tlvs::default()
                .with(tag::RECEIPTED_MESSAGE_ID, Tlvs::cstr_value("ab12"))
                .with(tag::MESSAGE_STATE, vec![2u8]),
            ..sm()
        }),
        Pdu::DeliverSmResp(SmResp::default()),
        Pdu::DataSm(DataSm {
            service_type: "".into(),
            source: addr("123"),
            dest: addr("456"),
            esm_class: 0,
            registered_delivery: 1,
            data_coding: 0,
            tlvs: Tlvs::default().with(tag::MESSAGE_PAYLOAD, vec![b'x'; 600]),
        }),
        Pdu::DataSmResp(SmResp { message_id: "9".into(), tlvs: Tlvs::default().with(tag::DELIVERY_FAILURE_REASON, vec![1u8]) }),
        Pdu::SubmitMulti(SubmitMulti {
            source: addr("123"),
            dests: vec![MultiDest::Sme(addr("27820000001")), MultiDest::List("nurses".into())],
            short_message: Bytes::from_static(b"hello"),
            ..Default::default()
        }),
        Pdu::SubmitMultiResp(SubmitMultiResp {
            message_id: "m1".into(),
            unsuccess: vec![Unsuccess { dest: addr("27820000002"), error_status: CommandStatus::ESME_RINVDSTADR }],
        }),
        Pdu::QuerySm(QuerySm { message_id: "m1".into(), source: addr("123") }),
        Pdu::QuerySmResp(QuerySmResp { message_id: "m1".into(), final_date: "".into(), message_state: 2, error_code: 0 }),
        Pdu::CancelSm(CancelSm { service_type: "".into(), message_id: "m1".into(), source: addr("1"), dest: addr("2") }),
        Pdu::CancelSmResp,
        Pdu::ReplaceSm(ReplaceSm { message_id: "m1".into(), source: addr("1"), short_message: Bytes::from_static(b"new"), ..Default::default() }),
        Pdu::ReplaceSmResp,
        Pdu::AlertNotification(AlertNotification {
            source: addr("27820000001"),
            esme: addr("123"),
            tlvs: Tlvs::default().with(tag::MS_AVAILABILITY_STATUS, vec![0u8]),
        }),
    ]
}

#[test]
fn every_pdu_round_trips() {
    let pdus = every_pdu();
    assert_eq!(pdus.len(), 27, "every SMPP 3.4 PDU");
    for (i, pdu) in pdus.into_iter().enumerate() {
        let frame = Frame::new(i as u32 + 1, pdu);
        let bytes = frame.to_bytes();
        assert_eq!(
            u32::from_be_bytes(bytes[0..4].try_into().unwrap()) as usize,
            bytes.len()
        );
        let back = Frame::decode(&bytes).unwrap_or_else(|e| panic!("{}: {e}", frame.pdu.name()));
        assert_eq!(back, frame, "{}", frame.pdu.name());
        assert_eq!(
            back.to_bytes(),
            bytes,
            "{} re-encodes identically",
            frame.pdu.name()
        );
    }
}

#[test]
fn a_known_submit_sm_encodes_to_the_spec_bytes() {
    let frame = Frame::new(
        7,
        Pdu::SubmitSm(Sm {
            source: Address::new(5, 0, "seed"),
            dest: Address::new(1, 1, "2782"),
            short_message: Bytes::from_static(b"Hi"),
            ..Default::default()
        }),
    );
    let expect: Vec<u8> = [
        &[0, 0, 0, 0x2B][..], // command_length 43
        &[0, 0, 0, 4],        // submit_sm
        &[0, 0, 0, 0],        // status
        &[0, 0, 0, 7],        // sequence
        &[0],                 // service_type ""
        &[5, 0],
        b"seed",
        &[0], // source
        &[1, 1],
        b"2782",
        &[0],       // destination
        &[0, 0, 0], // esm_class, protocol_id, priority_flag
        &[0],
        &[0],          // schedule_delivery_time, validity_period
        &[0, 0, 0, 0], // registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        &[2],
        b"Hi", // sm_length, short_message
    ]
    .concat();
    assert_eq!(frame.to_bytes().to_vec(), expect);
}

#[test]
fn malformed_bodies_get_the_right_status_and_response() {
    let good = Frame::new(42, Pdu::SubmitSm(sm())).to_bytes();
    let with_len = |mut b: Vec<u8>| {
        let len = b.len() as u32;
        b[0..4].copy_from_slice(&len.to_be_bytes());
        b
    };
    // Truncated inside the mandatory fields.
    let truncated = with_len(good[..30].to_vec());
    let e = Frame::decode(&truncated).unwrap_err();
    assert_eq!(
        (e.sequence, e.status),
        (42, CommandStatus::ESME_RINVCMDLEN),
        "{e}"
    );
    let resp = e.response().unwrap();
    assert_eq!((resp.sequence, resp.status), (42, CommandStatus::ESME_RINVCMDLEN));
    assert!(
        matches!(resp.pdu, Pdu::SubmitSmResp(_)),
        "a submit_sm gets a submit_sm_resp"
    );

    // sm_length pointing past the end.
    let mut b = Frame::new(
        43,
        Pdu::SubmitSm(Sm {
            tlvs: Tlvs::default(),
            ..sm()
        }),
    )
    .to_bytes()
    .to_vec();
    let sm_len_at = b.len() - 5;
    b[sm_len_at] = 200;
    let e = Frame::decode(&with_len(b)).unwrap_err();
    assert_eq!(e.status, CommandStatus::ESME_RINVMSGLEN, "{e}");

    // A known TLV with the wrong length.
    let mut b = Frame::new(
        44,
        Pdu::SubmitSm(Sm {
            tlvs: Tlvs::default(),
            ..sm()
        }),
    )
    .to_bytes()
    .to_vec();
    b.extend([0x02, 0x0E, 0x00, 0x02, 1, 1]); // sar_total_segments, length 2
    let e = Frame::decode(&with_len(b)).unwrap_err();
    assert_eq!(e.status, CommandStatus::ESME_RINVPARLEN, "{e}");

    // A TLV claiming more than is there.
    let mut b = Frame::new(
        45,
        Pdu::SubmitSm(Sm {
            tlvs: Tlvs::default(),
            ..sm()
        }),
    )
    .to_bytes()
    .to_vec();
    b.extend([0x04, 0x24, 0x01, 0x00, 1, 2, 3]);
    let e = Frame::decode(&with_len(b)).unwrap_err();
    assert_eq!(e.status, CommandStatus::ESME_RINVOPTPARSTREAM, "{e}");

    // Unknown command: generic_nack with its sequence.
    let mut b = Frame::new(46, Pdu::EnquireLink).to_bytes().to_vec();
    b[4..8].copy_from_slice(&0x0000_0999u32.to_be_bytes());
    let e = Frame::decode(&b).unwrap_err();
    let resp = e.response().unwrap();
    assert_eq!(
        (resp.sequence, resp.status, resp.pdu),
        (46, CommandStatus::ESME_RINVCMDID, Pdu::GenericNack)
    );

    // A response we cannot read is not answered.
    let mut b = Frame::new(47, Pdu::SubmitSmResp(SmResp::new("x")))
        .to_bytes()
        .to_vec();
    b.pop(); // drop the NUL of message_id
    let e = Frame::decode(&with_len(b)).unwrap_err();
    assert!(e.response().is_none(), "{e}");
}

#[test]
fn carrier_quirks_are_accepted() {
    // Latin-1 and over-long source addresses, a two-octet ussd_service_op.
    let quirky = Sm {
        source: Address::new(5, 0, "Clínica Saúde Materna Ltd"),
        tlvs: Tlvs::default().with(tag::USSD_SERVICE_OP, vec![0u8, 2]),
        ..sm()
    };
    let bytes = Frame::new(1, Pdu::SubmitSm(quirky.clone())).to_bytes();
    assert!(
        bytes.windows(2).any(|w| w == [b'l', 0xED]),
        "Latin-1 on the wire: {bytes:?}"
    );
    let back = Frame::decode(&bytes).unwrap();
    let Pdu::SubmitSm(got) = back.pdu else { panic!() };
    assert_eq!(got.source.addr, "Clínica Saúde Materna Ltd");
    assert_eq!(got.tlvs.ussd_service_op(), Some(2));
}

#[test]
fn error_responses_without_a_body_decode() {
    // SMSCs often send submit_sm_resp with an error and no message_id.
    let mut b = vec![0, 0, 0, 16, 0x80, 0, 0, 4, 0, 0, 0, 0x58, 0, 0, 0, 9];
    let f = Frame::decode(&b).unwrap();
    assert_eq!(
        (f.status, f.sequence, f.pdu),
        (
            CommandStatus::ESME_RTHROTTLED,
            9,
            Pdu::SubmitSmResp(SmResp::default())
        )
    );
    assert!(f.status.is_temporary());
    b[11] = 0x0B;
    assert!(!Frame::decode(&b).unwrap().status.is_temporary());
}

#[test]
fn bad_command_lengths_are_refused_before_allocating() {
    let mut codec = SmppCodec::new(1000);
    for length in [0u32, 15, 1001, u32::MAX] {
        let mut buf = BytesMut::from(&length.to_be_bytes()[..]);
        buf.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5]);
        let cap = buf.capacity();
        match codec.decode(&mut buf) {
            Err(FramingError::BadLength {
                length: l, sequence, ..
            }) => {
                assert_eq!((l, sequence), (length, Some(5)));
            }
            other => panic!("{length}: {other:?}"),
        }
        assert!(buf.capacity() <= cap.max(64), "no allocation for a bad length");
    }
}

/// Decoding gives the same frames whatever the read sizes (down to 1 byte at a time).
#[tokio::test]
async fn decoding_survives_any_chunking() {
    let frames: Vec<Frame> = every_pdu()
        .into_iter()
        .enumerate()
        .map(|(i, p)| Frame::new(i as u32, p))
        .collect();
    let mut wire = BytesMut::new();
    for f in &frames {
        f.encode(&mut wire);
    }
    // A malformed PDU in the middle must not derail the ones after it.
    let mut bad = Frame::new(999, Pdu::EnquireLink).to_bytes().to_vec();
    bad[4..8].copy_from_slice(&0x0000_0777u32.to_be_bytes());
    // Put it at the first PDU boundary past the middle.
    let mut split_at = 0usize;
    while split_at < wire.len() / 2 {
        split_at += u32::from_be_bytes(wire[split_at..split_at + 4].try_into().unwrap()) as usize;
    }
    let stream = [&wire[..split_at], &bad[..], &wire[split_at..]].concat();
    for chunk in [1usize, 3, 4, 7, 16, 64, 4096] {
        let (client, mut server) = tokio::io::duplex(chunk.max(4));
        let writer = {
            let stream = stream.clone();
            tokio::spawn(async move {
                for part in stream.chunks(chunk) {
                    server.write_all(part).await.unwrap();
                }
                server.shutdown().await.unwrap();
            })
        };
        let mut read = FramedRead::new(client, SmppCodec::default());
        let mut got = Vec::new();
        let mut errors = Vec::new();
        while let Some(item) = read.next().await {
            match item.unwrap() {
                Ok(f) => got.push(f),
                Err(e) => errors.push(e),
            }
        }
        writer.await.unwrap();
        assert_eq!(got, frames, "chunk size {chunk}");
        assert_eq!(errors.len(), 1, "chunk size {chunk}");
        assert_eq!(
            (errors[0].sequence, errors[0].status),
            (999, CommandStatus::ESME_RINVCMDID)
        );
    }
}
