//! One SMPP connection, either side: the layer the ESME client and the SMPP server share.
//!
//! - A writer task drains queued frames into the socket buffer and flushes once per batch, so a
//!   busy bind makes one `write()` for many PDUs.
//! - Requests get sequence numbers, wait in a window of at most `window` outstanding, and are
//!   matched to their responses; a response that does not come within `response_timeout` is an
//!   error for the caller (never silently dropped).
//! - `enquire_link` from the peer is answered here; our own `enquire_link` goes out every
//!   `enquire_link_every`, and a peer that does not answer within `response_timeout` is dead.
//! - A PDU that cannot be decoded is answered (its `_resp` with the error status, or
//!   `generic_nack`) and the link stays up; a stream that cannot be framed is answered with
//!   `generic_nack` and closed.
//!
//! Requests from the peer (other than `enquire_link`) come out of [`Link::spawn`]'s receiver
//! for the owner to handle and answer with [`Link::respond`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio_util::codec::{FramedRead, FramedWrite};
use tokio_util::sync::CancellationToken;

use crate::codec::{FramingError, SmppCodec};
use crate::pdu::{Frame, Pdu};
use crate::status::CommandStatus;

/// Timing and sizing of a link.
#[derive(Debug, Clone, Copy)]
pub struct LinkConfig {
    /// Outstanding requests at most.
    pub window: usize,
    pub response_timeout: Duration,
    pub enquire_link_every: Duration,
    pub max_pdu: u32,
}

impl Default for LinkConfig {
    fn default() -> Self {
        Self {
            window: 10,
            response_timeout: Duration::from_secs(10),
            enquire_link_every: Duration::from_secs(30),
            max_pdu: crate::codec::DEFAULT_MAX_PDU,
        }
    }
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("no response within {0:?}")]
    Timeout(Duration),
    #[error("the link is closed: {0}")]
    Closed(String),
}

/// Why the link ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// The peer closed the connection.
    PeerClosed,
    /// The peer stopped answering enquire_link.
    PeerDead,
    /// The byte stream could not be framed (bad command_length).
    Framing(String),
    /// We closed it.
    Local,
}

impl Closed {
    /// Why, in words an operator reads in a channel's status (`peer`: "the SMSC", "the ESME").
    pub fn describe(&self, peer: &str) -> String {
        match self {
            Self::PeerClosed => format!("{peer} closed the connection"),
            Self::PeerDead => format!("{peer} stopped answering enquire_link"),
            Self::Framing(why) => format!("{peer} sent bytes that are not SMPP ({why})"),
            Self::Local => "closed by seedgate".into(),
        }
    }
}

type Waiters = Arc<Mutex<HashMap<u32, oneshot::Sender<Frame>>>>;

/// A handle to a running link; cheap to clone.
#[derive(Debug, Clone)]
pub struct Link {
    out: mpsc::Sender<Frame>,
    waiters: Waiters,
    window: Arc<Semaphore>,
    window_size: Arc<std::sync::atomic::AtomicUsize>,
    next_seq: Arc<AtomicU32>,
    config: LinkConfig,
    stop: CancellationToken,
    peer_dead: Arc<AtomicBool>,
}

/// Requests from the peer, and how the link ended.
#[derive(Debug)]
pub struct Incoming {
    pub requests: mpsc::Receiver<Frame>,
    pub closed: oneshot::Receiver<Closed>,
}

impl Link {
    /// Starts the reader, writer and keepalive tasks on `io`.
    pub fn spawn<IO>(io: IO, config: LinkConfig) -> (Link, Incoming)
    where
        IO: AsyncRead + AsyncWrite + Send + 'static,
    {
        let (read, write) = tokio::io::split(io);
        let (out_tx, out_rx) = mpsc::channel::<Frame>(config.window.max(1) * 4 + 16);
        let (req_tx, req_rx) = mpsc::channel::<Frame>(config.window.max(1) * 2 + 16);
        let (closed_tx, closed_rx) = oneshot::channel();
        let link = Link {
            out: out_tx,
            waiters: Arc::default(),
            window: Arc::new(Semaphore::new(config.window.max(1))),
            window_size: Arc::new(std::sync::atomic::AtomicUsize::new(config.window.max(1))),
            next_seq: Arc::new(AtomicU32::new(1)),
            config,
            stop: CancellationToken::new(),
            peer_dead: Arc::default(),
        };
        tokio::spawn(write_loop(
            FramedWrite::new(write, SmppCodec::new(config.max_pdu)),
            out_rx,
            link.stop.clone(),
        ));
        let reader = FramedRead::new(read, SmppCodec::new(config.max_pdu));
        tokio::spawn(read_loop(link.clone(), reader, req_tx, closed_tx));
        (
            link,
            Incoming {
                requests: req_rx,
                closed: closed_rx,
            },
        )
    }

    /// The next sequence number (1..=0x7FFFFFFF, wrapping).
    fn sequence(&self) -> u32 {
        let n = self.next_seq.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF;
        if n == 0 {
            self.next_seq.fetch_add(1, Ordering::Relaxed) & 0x7FFF_FFFF
        } else {
            n
        }
    }

    /// Sends a request and waits for its response, within the window and the timeout.
    pub async fn request(&self, pdu: Pdu) -> Result<Frame, LinkError> {
        self.request_noting(pdu, || ()).await.1
    }

    /// [`Link::request`], calling `going` once the request has its window slot, right before it
    /// goes out (`None` if it never did): what `going` returns, the caller keeps until the
    /// answer (the ESME marks its submits in flight with it).
    pub async fn request_noting<T>(
        &self,
        pdu: Pdu,
        going: impl FnOnce() -> T,
    ) -> (Option<T>, Result<Frame, LinkError>) {
        let _permit = tokio::select! {
            p = self.window.acquire() => match p {
                Ok(p) => p,
                Err(_) => return (None, Err(LinkError::Closed("window closed".into()))),
            },
            () = self.stop.cancelled() => return (None, Err(LinkError::Closed("stopped".into()))),
        };
        let mark = going();
        let seq = self.sequence();
        let (tx, rx) = oneshot::channel();
        self.lock().insert(seq, tx);
        if self.out.send(Frame::new(seq, pdu)).await.is_err() {
            self.lock().remove(&seq);
            return (Some(mark), Err(LinkError::Closed("writer gone".into())));
        }
        let answer = match tokio::time::timeout(self.config.response_timeout, rx).await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(_)) => Err(LinkError::Closed("link closed before the response".into())),
            Err(_) => {
                self.lock().remove(&seq);
                Err(LinkError::Timeout(self.config.response_timeout))
            }
        };
        (Some(mark), answer)
    }

    /// Sends a response (or any frame that needs no answer).
    pub async fn respond(&self, frame: Frame) -> Result<(), LinkError> {
        self.out
            .send(frame)
            .await
            .map_err(|_| LinkError::Closed("writer gone".into()))
    }

    /// Requests outstanding now (window fill).
    pub fn outstanding(&self) -> usize {
        self.window_size
            .load(Ordering::Relaxed)
            .saturating_sub(self.window.available_permits())
    }

    /// Changes the window (e.g. to the account's once a bind names it).
    pub fn set_window(&self, n: usize) {
        let n = n.max(1);
        let old = self.window_size.swap(n, Ordering::Relaxed);
        if n > old {
            self.window.add_permits(n - old);
        } else {
            // Permits in use are taken back as they are returned.
            let mut owed = old - n;
            owed -= self.window.forget_permits(owed);
            if owed > 0 {
                let (window, size) = (self.window.clone(), self.window_size.clone());
                tokio::spawn(async move {
                    for _ in 0..owed {
                        match window.acquire().await {
                            Ok(p) if size.load(Ordering::Relaxed) == n => p.forget(),
                            _ => return,
                        }
                    }
                });
            }
        }
    }

    /// Closes the link: queued frames are flushed first.
    pub fn close(&self) {
        self.stop.cancel();
    }

    pub fn is_closed(&self) -> bool {
        self.stop.is_cancelled()
    }

    /// Identity of the underlying connection (clones of one link share it).
    pub fn id(&self) -> *const () {
        Arc::as_ptr(&self.waiters).cast()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, oneshot::Sender<Frame>>> {
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn write_loop<W>(
    mut sink: FramedWrite<W, SmppCodec>,
    mut rx: mpsc::Receiver<Frame>,
    stop: CancellationToken,
) where
    W: AsyncWrite + Unpin,
{
    loop {
        let first = tokio::select! {
            f = rx.recv() => match f { Some(f) => f, None => break },
            () = stop.cancelled() => {
                // Flush what is queued (e.g. an unbind_resp), then go.
                while let Ok(f) = rx.try_recv() {
                    if sink.feed(f).await.is_err() { break; }
                }
                break;
            }
        };
        if sink.feed(first).await.is_err() {
            break;
        }
        // Batch: everything already queued goes out with one flush.
        while let Ok(f) = rx.try_recv() {
            if sink.feed(f).await.is_err() {
                break;
            }
        }
        if sink.flush().await.is_err() {
            break;
        }
    }
    let _ = sink.flush().await;
    let _ = sink.get_mut().shutdown().await;
    stop.cancel();
}

async fn read_loop<R>(
    link: Link,
    mut reader: FramedRead<R, SmppCodec>,
    requests: mpsc::Sender<Frame>,
    closed: oneshot::Sender<Closed>,
) where
    R: AsyncRead + Unpin,
{
    let keepalive = tokio::spawn(keepalive(link.clone()));
    let why = loop {
        let item = tokio::select! {
            item = reader.next() => item,
            () = link.stop.cancelled() => break if link.peer_dead.load(Ordering::Relaxed) { Closed::PeerDead } else { Closed::Local },
        };
        match item {
            None => break Closed::PeerClosed,
            Some(Err(FramingError::BadLength { length, sequence, .. })) => {
                let nack = Frame::response(
                    sequence.unwrap_or(0),
                    CommandStatus::ESME_RINVCMDLEN,
                    Pdu::GenericNack,
                );
                let _ = link.respond(nack).await;
                break Closed::Framing(format!("command_length {length}"));
            }
            Some(Err(FramingError::Io(e))) => break Closed::Framing(e.to_string()),
            Some(Ok(Err(decode_error))) => {
                if let Some(resp) = decode_error.response() {
                    let _ = link.respond(resp).await;
                }
                // A response we could not read still frees its waiter (as an error).
                if decode_error.command_id & 0x8000_0000 != 0 {
                    if let Some(w) = link.lock().remove(&decode_error.sequence) {
                        let _ = w.send(Frame::response(
                            decode_error.sequence,
                            decode_error.status,
                            Pdu::GenericNack,
                        ));
                    }
                }
            }
            Some(Ok(Ok(frame))) => {
                if frame.pdu.is_response() {
                    // A late (timed out) or unsolicited response has nobody waiting: dropped.
                    if let Some(w) = link.lock().remove(&frame.sequence) {
                        let _ = w.send(frame);
                    }
                } else if frame.pdu == Pdu::EnquireLink {
                    let _ = link
                        .respond(Frame::response(
                            frame.sequence,
                            CommandStatus::ESME_ROK,
                            Pdu::EnquireLinkResp,
                        ))
                        .await;
                } else if requests.send(frame).await.is_err() {
                    break Closed::Local;
                }
            }
        }
    };
    keepalive.abort();
    link.stop.cancel();
    // Wake everyone still waiting: their responses will not come.
    link.lock().clear();
    link.window.close();
    let _ = closed.send(why);
}

async fn keepalive(link: Link) {
    loop {
        tokio::time::sleep(link.config.enquire_link_every).await;
        match link.request(Pdu::EnquireLink).await {
            Ok(_) => {}
            Err(LinkError::Timeout(_)) => {
                link.peer_dead.store(true, Ordering::Relaxed);
                link.stop.cancel();
                return;
            }
            Err(LinkError::Closed(_)) => return,
        }
    }
}
