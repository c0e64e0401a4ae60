//! SMS conversations waiting with a timeout.

use super::*;
use crate::helpers::at_day;

async fn conversations_wait_and_time_out(store: Arc<dyn Store>) {
    store
        .run_put("sms:demo-sms:+27820000704", "{\"a\":1}", Some(at_day(5)))
        .await
        .unwrap();
    store
        .run_put("sms:demo-sms:+27820000705", "{\"b\":2}", None)
        .await
        .unwrap();
    assert_eq!(
        store
            .run_get("sms:demo-sms:+27820000704")
            .await
            .unwrap()
            .as_deref(),
        Some("{\"a\":1}")
    );
    assert!(store.runs_due(at_day(4), 10).await.unwrap().is_empty());
    let due = store.runs_due(at_day(6), 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].1, "{\"a\":1}");
    store
        .run_put("sms:demo-sms:+27820000704", "{\"a\":2}", None)
        .await
        .unwrap();
    assert!(
        store.runs_due(at_day(6), 10).await.unwrap().is_empty(),
        "answered: no timeout left"
    );
    store.run_delete("sms:demo-sms:+27820000704").await.unwrap();
    assert!(store
        .run_get("sms:demo-sms:+27820000704")
        .await
        .unwrap()
        .is_none());
}

conformance!(conversations_wait_and_time_out,);
