//! A token bucket: `rate` per second, bursting to one second's worth; on tokio's clock.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    state: Mutex<(f64, Instant)>,
}

impl TokenBucket {
    /// `rate` per second; 0 means unlimited.
    pub fn new(rate: u32) -> Self {
        Self {
            rate: f64::from(rate),
            state: Mutex::new((f64::from(rate), Instant::now())),
        }
    }

    fn refill(&self, st: &mut (f64, Instant)) {
        let now = Instant::now();
        st.0 = (st.0 + now.duration_since(st.1).as_secs_f64() * self.rate).min(self.rate.max(1.0));
        st.1 = now;
    }

    /// Takes a token now, or says how long until one is there.
    fn take_or_wait(&self) -> Result<(), Duration> {
        if self.rate == 0.0 {
            return Ok(());
        }
        let mut st = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.refill(&mut st);
        if st.0 >= 1.0 {
            st.0 -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - st.0) / self.rate))
        }
    }

    /// Takes a token now if there is one.
    pub fn try_take(&self) -> bool {
        self.take_or_wait().is_ok()
    }

    /// Waits for a token: exact pacing at `rate` per second.
    pub async fn take(&self) {
        while let Err(wait) = self.take_or_wait() {
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_exactly_at_the_rate() {
        let b = TokenBucket::new(50);
        let start = Instant::now();
        for _ in 0..150 {
            b.take().await;
        }
        // 50 in the first burst, then 100 more at 50/s.
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(1990) && took <= Duration::from_millis(2010),
            "{took:?}"
        );
        assert!(TokenBucket::new(0).try_take());
    }
}
