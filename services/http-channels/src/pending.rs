//! Requests waiting for their reply, keyed by the inbound message id.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use seedgate_proto::Message;
use tokio::sync::oneshot;
use uuid::Uuid;

#[derive(Debug, Default)]
pub(crate) struct Pending {
    waiting: Mutex<HashMap<Uuid, oneshot::Sender<Message>>>,
}

impl Pending {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, oneshot::Sender<Message>>> {
        self.waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a request waiting for the reply to `id`. The registration ends when the
    /// guard drops: also when the aggregator hangs up and the request is cancelled.
    pub(crate) fn register(self: &Arc<Self>, id: Uuid) -> (oneshot::Receiver<Message>, Waiting) {
        let (tx, rx) = oneshot::channel();
        self.map().insert(id, tx);
        (
            rx,
            Waiting {
                pending: self.clone(),
                id,
            },
        )
    }

    /// Takes the waiter for `id`, if one is still there.
    pub(crate) fn take(&self, id: Uuid) -> Option<oneshot::Sender<Message>> {
        self.map().remove(&id)
    }

    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
}

/// Removes its registration when dropped.
#[derive(Debug)]
pub(crate) struct Waiting {
    pending: Arc<Pending>,
    id: Uuid,
}

impl Drop for Waiting {
    fn drop(&mut self) {
        self.pending.map().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cancelled_request_leaves_nothing_behind() {
        let pending = Arc::new(Pending::default());
        let id = Uuid::now_v7();
        let (_rx, guard) = pending.register(id);
        assert_eq!(pending.len(), 1);
        drop(guard); // the aggregator hung up: axum dropped the handler
        assert_eq!(pending.len(), 0);
        assert!(pending.take(id).is_none());
    }

    #[test]
    fn a_reply_reaches_the_waiting_request() {
        let pending = Arc::new(Pending::default());
        let msg = Message::inbound("c", seedgate_proto::TransportType::Ussd, "1", "2", "x");
        let (mut rx, _guard) = pending.register(msg.id);
        pending.take(msg.id).unwrap().send(msg.clone()).unwrap();
        assert_eq!(rx.try_recv().unwrap(), msg);
    }
}
