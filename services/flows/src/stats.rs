//! Where people drop off: the arrows runs take, counted in memory per (flow, day, from, to)
//! and added to the store's counters every [`FLUSH_EVERY`] (the studio draws them on the
//! graph). A count is kept until the store took it; a crash loses at most the last second's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use seedgate_runtime::store::{FlowStat, Store};
use tokio_util::sync::CancellationToken;

/// How often the counts go to the store.
pub const FLUSH_EVERY: Duration = Duration::from_secs(1);
/// Distinct counters held at most while the store is away (then new ones are dropped).
const MAX_KEYS: usize = 100_000;

type Key = (String, NaiveDate, String, String);

/// The counts not yet in the store.
#[derive(Debug, Default, Clone)]
pub struct Stats {
    counts: Arc<Mutex<HashMap<Key, i64>>>,
}

impl Stats {
    fn add(&self, flow: &str, day: NaiveDate, from: &str, to: &str) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (flow.to_string(), day, from.to_string(), to.to_string());
        if counts.len() >= MAX_KEYS && !counts.contains_key(&key) {
            metrics::counter!("seedgate_flows_stats_dropped_total").increment(1);
            return;
        }
        *counts.entry(key).or_insert(0) += 1;
    }

    /// A step of a run: `from` is the (flow, node) it waited at (`None` for a new run),
    /// `entered` the nodes it went through, `ended` whether it ended at the last of them.
    pub fn step(
        &self,
        now: DateTime<Utc>,
        from: Option<(&str, &str)>,
        entered: &[(String, String)],
        ended: bool,
    ) {
        let day = now.date_naive();
        let mut at: Option<(&str, &str)> = from;
        for (flow, node) in entered {
            match at {
                Some((f, n)) if f == flow => self.add(flow, day, n, node),
                // A new run, or a goto into another flow: it starts there.
                _ => self.add(flow, day, "", node),
            }
            at = Some((flow, node));
        }
        if ended {
            if let Some((flow, node)) = at {
                self.add(flow, day, node, "");
            }
        }
    }

    /// A run that ended while waiting at `node` (the user hung up, or the session timed out).
    pub fn dropped(&self, now: DateTime<Utc>, flow: &str, node: &str) {
        self.add(flow, now.date_naive(), node, "");
    }

    fn take(&self) -> Vec<FlowStat> {
        let counts = std::mem::take(&mut *self.counts.lock().unwrap_or_else(PoisonError::into_inner));
        counts
            .into_iter()
            .map(|((flow, day, from, to), count)| FlowStat {
                flow,
                day,
                from,
                to,
                count,
            })
            .collect()
    }

    fn put_back(&self, rows: Vec<FlowStat>) {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        for r in rows {
            *counts.entry((r.flow, r.day, r.from, r.to)).or_insert(0) += r.count;
        }
    }

    /// Adds the counts to the store.
    pub async fn flush(&self, store: &dyn Store) {
        let rows = self.take();
        if rows.is_empty() {
            return;
        }
        if let Err(e) = store.flow_stats_add(&rows).await {
            tracing::debug!(error = %e, "cannot add the flow counters yet; kept for the next try");
            self.put_back(rows);
        }
    }

    /// Flushes every [`FLUSH_EVERY`] until `shutdown`, and once more then.
    pub async fn run(self, store: Arc<dyn Store>, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(FLUSH_EVERY) => self.flush(store.as_ref()).await,
                () = shutdown.cancelled() => break,
            }
        }
        self.flush(store.as_ref()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(s: &Stats) -> Vec<(String, String, String, i64)> {
        let mut v: Vec<_> = s
            .take()
            .into_iter()
            .map(|r| (r.flow, r.from, r.to, r.count))
            .collect();
        v.sort();
        v
    }

    fn n(flow: &str, node: &str) -> (String, String) {
        (flow.into(), node.into())
    }

    #[test]
    fn counts_sum_per_arrow() {
        let st = Stats::default();
        let now = Utc::now();
        st.step(now, None, &[n("reg", "welcome")], false);
        st.step(
            now,
            Some(("reg", "welcome")),
            &[n("reg", "check"), n("reg", "done")],
            true,
        );
        st.step(now, None, &[n("reg", "welcome")], false);
        st.dropped(now, "reg", "welcome");
        st.step(now, Some(("reg", "welcome")), &[n("other", "start")], false);
        let row = |a: &str, b: &str, c: &str, k| (a.to_string(), b.to_string(), c.to_string(), k);
        assert_eq!(
            counts(&st),
            vec![
                row("other", "", "start", 1),
                row("reg", "", "welcome", 2),
                row("reg", "check", "done", 1),
                row("reg", "done", "", 1),
                row("reg", "welcome", "", 1),
                row("reg", "welcome", "check", 1),
            ]
        );
        assert!(counts(&st).is_empty(), "taken counts are gone");
    }

    #[test]
    fn memory_is_bounded_while_the_store_is_away() {
        let st = Stats::default();
        let now = Utc::now();
        for i in 0..(MAX_KEYS + 10) {
            st.dropped(now, "f", &format!("n{i}"));
        }
        assert_eq!(st.take().len(), MAX_KEYS);
    }
}
