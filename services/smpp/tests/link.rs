//! The link layer against a hand-driven peer on a duplex pipe, on tokio's paused clock.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use seedgate_smpp::link::{Closed, Link, LinkConfig, LinkError};
use seedgate_smpp::pdu::{Sm, SmResp};
use seedgate_smpp::{CommandStatus, Frame, Pdu, SmppCodec};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use tokio_util::codec::Framed;

fn config() -> LinkConfig {
    LinkConfig {
        window: 2,
        response_timeout: Duration::from_secs(5),
        enquire_link_every: Duration::from_secs(30),
        max_pdu: 4096,
    }
}

fn setup(
    cfg: LinkConfig,
) -> (
    Link,
    seedgate_smpp::link::Incoming,
    Framed<DuplexStream, SmppCodec>,
) {
    let (ours, theirs) = tokio::io::duplex(1 << 16);
    let (link, incoming) = Link::spawn(ours, cfg);
    (link, incoming, Framed::new(theirs, SmppCodec::new(4096)))
}

async fn peer_next(peer: &mut Framed<DuplexStream, SmppCodec>) -> Frame {
    tokio::time::timeout(Duration::from_secs(60), peer.next())
        .await
        .expect("a frame")
        .unwrap()
        .unwrap()
        .unwrap()
}

fn submit() -> Pdu {
    Pdu::SubmitSm(Sm {
        short_message: bytes::Bytes::from_static(b"hi"),
        ..Default::default()
    })
}

#[tokio::test(start_paused = true)]
async fn requests_are_matched_to_responses_within_the_window() {
    let (link, _incoming, mut peer) = setup(config());
    let calls: Vec<_> = (0..3)
        .map(|_| {
            let l = link.clone();
            tokio::spawn(async move { l.request(submit()).await })
        })
        .collect();
    let a = peer_next(&mut peer).await;
    let b = peer_next(&mut peer).await;
    assert_ne!(a.sequence, b.sequence);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), peer.next())
            .await
            .is_err(),
        "the window holds the third"
    );
    assert_eq!(link.outstanding(), 2);
    // Answer out of order; each caller gets its own response.
    peer.send(Frame::response(
        b.sequence,
        CommandStatus::ESME_ROK,
        Pdu::SubmitSmResp(SmResp::new("B")),
    ))
    .await
    .unwrap();
    let c = peer_next(&mut peer).await;
    peer.send(Frame::response(
        a.sequence,
        CommandStatus::ESME_ROK,
        Pdu::SubmitSmResp(SmResp::new("A")),
    ))
    .await
    .unwrap();
    peer.send(Frame::response(
        c.sequence,
        CommandStatus::ESME_RTHROTTLED,
        Pdu::SubmitSmResp(SmResp::default()),
    ))
    .await
    .unwrap();
    let mut got = Vec::new();
    for call in calls {
        let f = call.await.unwrap().unwrap();
        got.push((f.sequence, f.status));
    }
    got.sort();
    let mut want = vec![
        (a.sequence, CommandStatus::ESME_ROK),
        (b.sequence, CommandStatus::ESME_ROK),
        (c.sequence, CommandStatus::ESME_RTHROTTLED),
    ];
    want.sort();
    assert_eq!(got, want);
}

#[tokio::test(start_paused = true)]
async fn a_response_that_never_comes_is_a_timeout_not_a_hang() {
    let (link, _incoming, mut peer) = setup(config());
    let call = tokio::spawn({
        let l = link.clone();
        async move { l.request(submit()).await }
    });
    let req = peer_next(&mut peer).await;
    assert_eq!(
        call.await.unwrap(),
        Err(LinkError::Timeout(Duration::from_secs(5)))
    );
    assert_eq!(link.outstanding(), 0, "the window slot is free again");
    // The late response is ignored, and the link still works.
    peer.send(Frame::response(
        req.sequence,
        CommandStatus::ESME_ROK,
        Pdu::SubmitSmResp(SmResp::new("late")),
    ))
    .await
    .unwrap();
    let call = tokio::spawn({
        let l = link.clone();
        async move { l.request(Pdu::EnquireLink).await }
    });
    let req = peer_next(&mut peer).await;
    peer.send(Frame::response(
        req.sequence,
        CommandStatus::ESME_ROK,
        Pdu::EnquireLinkResp,
    ))
    .await
    .unwrap();
    assert_eq!(call.await.unwrap().unwrap().pdu, Pdu::EnquireLinkResp);
}

#[tokio::test(start_paused = true)]
async fn enquire_link_is_answered_and_requests_reach_the_owner() {
    let (link, mut incoming, mut peer) = setup(config());
    peer.send(Frame::new(77, Pdu::EnquireLink)).await.unwrap();
    let resp = peer_next(&mut peer).await;
    assert_eq!((resp.sequence, resp.pdu), (77, Pdu::EnquireLinkResp));
    peer.send(Frame::new(78, submit())).await.unwrap();
    let req = incoming.requests.recv().await.unwrap();
    assert_eq!(req.sequence, 78);
    link.respond(Frame::response(
        78,
        CommandStatus::ESME_ROK,
        Pdu::SubmitSmResp(SmResp::new("m-1")),
    ))
    .await
    .unwrap();
    assert_eq!(
        peer_next(&mut peer).await.pdu,
        Pdu::SubmitSmResp(SmResp::new("m-1"))
    );
}

#[tokio::test(start_paused = true)]
async fn a_malformed_pdu_is_answered_and_the_link_stays_up() {
    let (_link, mut incoming, mut peer) = setup(config());
    let mut bad = Frame::new(5, submit()).to_bytes().to_vec();
    bad.truncate(bad.len() - 1); // sm_length says 2, one octet is there
    let len = bad.len() as u32;
    bad[0..4].copy_from_slice(&len.to_be_bytes());
    peer.get_mut().write_all(&bad).await.unwrap();
    let resp = peer_next(&mut peer).await;
    assert_eq!((resp.sequence, resp.status), (5, CommandStatus::ESME_RINVMSGLEN));
    assert!(matches!(resp.pdu, Pdu::SubmitSmResp(_)));
    peer.send(Frame::new(6, submit())).await.unwrap();
    assert_eq!(
        incoming.requests.recv().await.unwrap().sequence,
        6,
        "the next PDU still gets through"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unframeable_stream_gets_generic_nack_and_is_closed() {
    let (_link, incoming, mut peer) = setup(config());
    peer.get_mut()
        .write_all(&[0, 0, 0, 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 9])
        .await
        .unwrap();
    let nack = peer_next(&mut peer).await;
    assert_eq!(
        (nack.pdu, nack.status, nack.sequence),
        (Pdu::GenericNack, CommandStatus::ESME_RINVCMDLEN, 9)
    );
    assert!(matches!(incoming.closed.await.unwrap(), Closed::Framing(_)));
    assert!(peer.next().await.is_none(), "connection closed");
}

#[tokio::test(start_paused = true)]
async fn a_silent_peer_is_detected_by_enquire_link() {
    let (link, incoming, mut peer) = setup(config());
    let probe = peer_next(&mut peer).await; // after 30 s
    assert_eq!(probe.pdu, Pdu::EnquireLink);
    // ...and never answered.
    assert_eq!(incoming.closed.await.unwrap(), Closed::PeerDead);
    assert!(link.is_closed());
    assert!(matches!(link.request(submit()).await, Err(LinkError::Closed(_))));
}

/// Counts write calls on the socket.
struct CountingIo {
    inner: DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test(start_paused = true)]
async fn writes_are_batched_under_load() {
    let (ours, theirs) = tokio::io::duplex(1 << 20);
    let writes = Arc::new(AtomicUsize::new(0));
    let cfg = LinkConfig {
        window: 100,
        ..config()
    };
    let (link, _incoming) = Link::spawn(
        CountingIo {
            inner: ours,
            writes: writes.clone(),
        },
        cfg,
    );
    for i in 0..200u32 {
        link.respond(Frame::response(
            i,
            CommandStatus::ESME_ROK,
            Pdu::DeliverSmResp(SmResp::default()),
        ))
        .await
        .unwrap();
    }
    let mut peer = Framed::new(theirs, SmppCodec::new(4096));
    for _ in 0..200 {
        peer_next(&mut peer).await;
    }
    let n = writes.load(Ordering::Relaxed);
    assert!(n <= 20, "200 PDUs took {n} writes");
}

#[tokio::test(start_paused = true)]
async fn the_window_can_shrink_and_grow_after_bind() {
    let (link, _incoming, mut peer) = setup(LinkConfig {
        window: 4,
        ..config()
    });
    link.set_window(1);
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let l = link.clone();
            tokio::spawn(async move { l.request(submit()).await })
        })
        .collect();
    let first = peer_next(&mut peer).await;
    assert!(
        tokio::time::timeout(Duration::from_secs(1), peer.next())
            .await
            .is_err(),
        "window 1 holds the second"
    );
    link.set_window(3);
    let second = peer_next(&mut peer).await;
    for f in [first, second] {
        peer.send(Frame::response(
            f.sequence,
            CommandStatus::ESME_ROK,
            Pdu::SubmitSmResp(SmResp::new("x")),
        ))
        .await
        .unwrap();
    }
    for c in calls {
        assert!(c.await.unwrap().is_ok());
    }
    assert_eq!(link.outstanding(), 0);
}
