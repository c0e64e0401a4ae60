//! Group commit: callers that each need a write to be durable before they answer share one
//! transaction. A writer task takes what is waiting (up to a batch), commits it once and
//! answers every caller; while it commits, the next batch gathers. A quiet system commits
//! each at once (no linger); a busy one pays one fsync per batch.

use std::future::Future;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;

type Reply<R> = oneshot::Sender<Result<R, StoreError>>;

/// A handle to one writer task; cheap to clone. The task ends when every handle is gone.
#[derive(Debug)]
pub struct GroupCommit<T, R> {
    tx: mpsc::UnboundedSender<(T, Reply<R>)>,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        Self { tx: self.tx.clone() }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Spawns the writer: `commit` gets each batch (at most `max` items, in arrival order) and
    /// answers one result per item, or one error for all. With `tick`, `commit` is also called
    /// with an empty batch after that long without any (for work that piggybacks on commits).
    pub fn spawn<F, Fut>(max: usize, tick: Option<Duration>, commit: F) -> Self
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<R>, StoreError>> + Send + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel::<(T, Reply<R>)>();
        tokio::spawn(run(rx, max, tick, commit));
        Self { tx }
    }

    /// [`GroupCommit::spawn`] on a thread of its own (named `name`), with a runtime of its
    /// own: the writer is polled the moment a statement it waits for is done, not when the
    /// process's workers get round to it. A writer that awaits a database a dozen times per
    /// commit, behind hundreds of HTTP and SMPP tasks, spent more time waiting for its turn
    /// to run than the database took (loadtests/README.md, issue 15). The thread ends with
    /// the last handle.
    pub fn spawn_thread<F, Fut>(
        name: &str,
        max: usize,
        tick: Option<Duration>,
        commit: F,
    ) -> std::io::Result<Self>
    where
        F: FnMut(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<R>, StoreError>> + 'static,
    {
        let (tx, rx) = mpsc::unbounded_channel::<(T, Reply<R>)>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || rt.block_on(run(rx, max, tick, commit)))?;
        Ok(Self { tx })
    }

    /// Hands `item` to the writer and waits for its commit.
    pub async fn submit(&self, item: T) -> Result<R, StoreError> {
        self.queue(item).await
    }

    /// Hands `item` to the writer now (items are committed in the order of these calls, not
    /// of the awaits) and returns the wait for its commit, which may be left to another task.
    pub fn queue(&self, item: T) -> impl Future<Output = Result<R, StoreError>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let sent = self.tx.send((item, reply)).is_ok();
        async move {
            if !sent {
                return Err(StoreError::Unavailable("the writer stopped".into()));
            }
            answer
                .await
                .map_err(|_| StoreError::Unavailable("the writer stopped mid-commit".into()))?
        }
    }
}

/// The writer: takes what is waiting, commits it, answers; until every handle is gone.
async fn run<T, R, F, Fut>(
    mut rx: mpsc::UnboundedReceiver<(T, Reply<R>)>,
    max: usize,
    tick: Option<Duration>,
    mut commit: F,
) where
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = Result<Vec<R>, StoreError>>,
{
    let idle = tick.unwrap_or(Duration::from_secs(3600));
    loop {
        let first = match tokio::time::timeout(idle, rx.recv()).await {
            Ok(Some(first)) => Some(first),
            Ok(None) => return,
            Err(_) => None,
        };
        let mut items = Vec::new();
        let mut replies = Vec::new();
        if let Some((item, reply)) = first {
            items.push(item);
            replies.push(reply);
            while items.len() < max.max(1) {
                match rx.try_recv() {
                    Ok((item, reply)) => {
                        items.push(item);
                        replies.push(reply);
                    }
                    Err(_) => break,
                }
            }
        } else if tick.is_none() {
            continue;
        }
        metrics::histogram!("seedgate_store_group_commit_size").record(items.len() as f64);
        match commit(items).await {
            Ok(results) => {
                for (reply, r) in replies.into_iter().zip(results) {
                    let _ = reply.send(Ok(r));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_commits_and_each_gets_its_answer() {
        let commits = Arc::new(AtomicUsize::new(0));
        let c = commits.clone();
        let group = GroupCommit::<u32, u32>::spawn(64, None, move |items| {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(items.into_iter().map(|i| i * 2).collect())
            }
        });
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200u32 {
            let g = group.clone();
            tasks.spawn(async move { (i, g.submit(i).await.unwrap()) });
        }
        while let Some(r) = tasks.join_next().await {
            let (i, doubled) = r.unwrap();
            assert_eq!(doubled, i * 2);
        }
        let n = commits.load(Ordering::SeqCst);
        assert!(n < 50, "200 callers took {n} commits; they should share them");
    }

    #[tokio::test]
    async fn a_writer_on_its_own_thread_shares_commits_and_answers_each() {
        let commits = Arc::new(AtomicUsize::new(0));
        let c = commits.clone();
        let group = GroupCommit::<u32, u32>::spawn_thread("test-writer", 64, None, move |items| {
            c.fetch_add(1, Ordering::SeqCst);
            async move {
                assert_eq!(std::thread::current().name(), Some("test-writer"));
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(items.into_iter().map(|i| i + 1).collect())
            }
        })
        .unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..200u32 {
            let g = group.clone();
            tasks.spawn(async move { (i, g.submit(i).await.unwrap()) });
        }
        while let Some(r) = tasks.join_next().await {
            let (i, answer) = r.unwrap();
            assert_eq!(answer, i + 1);
        }
        let n = commits.load(Ordering::SeqCst);
        assert!(n < 50, "200 callers took {n} commits; they should share them");
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_caller_of_its_batch() {
        let group = GroupCommit::<u32, ()>::spawn(8, None, |_items| async {
            Err(StoreError::Unavailable("disk full".into()))
        });
        let e = group.submit(1).await.unwrap_err();
        assert!(matches!(e, StoreError::Unavailable(m) if m == "disk full"));
    }
}
