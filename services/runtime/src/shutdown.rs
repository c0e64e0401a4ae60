//! Graceful shutdown: SIGTERM or SIGINT cancels a token; services drain within a deadline.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Cancels `token` on the first SIGTERM or SIGINT.
pub fn cancel_on_signal(token: CancellationToken) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            () = token.cancelled() => return,
        };
        tracing::info!(signal = name, "shutdown requested; draining");
        token.cancel();
    });
    Ok(())
}

/// Waits for `work` to finish, at most `deadline` after `token` is cancelled.
///
/// Returns `true` when the work finished (drained), `false` when the deadline cut it short.
pub async fn drain<F: std::future::Future>(work: F, token: &CancellationToken, deadline: Duration) -> bool {
    tokio::pin!(work);
    tokio::select! {
        _ = &mut work => return true,
        () = token.cancelled() => {}
    }
    tokio::time::timeout(deadline, work).await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn drain_waits_for_work_up_to_the_deadline() {
        let token = CancellationToken::new();
        token.cancel();
        let quick = drain(
            tokio::time::sleep(Duration::from_secs(3)),
            &token,
            Duration::from_secs(5),
        );
        assert!(quick.await, "work that ends within the deadline drains");
        let slow = drain(
            tokio::time::sleep(Duration::from_secs(30)),
            &token,
            Duration::from_secs(5),
        );
        assert!(!slow.await, "work past the deadline is cut short");
    }

    #[tokio::test(start_paused = true)]
    async fn drain_returns_when_work_ends_before_any_signal() {
        let token = CancellationToken::new();
        assert!(drain(async {}, &token, Duration::from_secs(1)).await);
        assert!(!token.is_cancelled());
    }
}
