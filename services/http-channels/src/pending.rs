//! Requests waiting for their reply, keyed by the inbound message id.

use std::collections::HashMap;
use std::sync::Mutex;

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

    /// Registers a request waiting for the reply to `id`.
    pub(crate) fn register(&self, id: Uuid) -> oneshot::Receiver<Message> {
        let (tx, rx) = oneshot::channel();
        self.map().insert(id, tx);
        rx
    }

    /// Takes the waiter for `id`, if one is still there.
    pub(crate) fn take(&self, id: Uuid) -> Option<oneshot::Sender<Message>> {
        self.map().remove(&id)
    }

    /// The request for `id` gave up waiting.
    pub(crate) fn forget(&self, id: Uuid) {
        self.map().remove(&id);
    }
}
