//! The in-process bus's journal.

use super::*;

fn entry(id: i64, queue: &str, text: &str) -> JournalEntry {
    JournalEntry {
        id,
        queue: queue.into(),
        routing_key: "demo-sms.outbound".into(),
        payload: format!(r#"{{"text":"{text}","to":"+27820000001"}}"#).into_bytes(),
    }
}

async fn journal_rows_stay_until_done_and_come_back_in_order(store: Arc<dyn Store>) {
    assert!(store.journal_pending().await.unwrap().is_empty());
    let (a, b, c) = (
        entry(10, "store", "a"),
        entry(11, "channel.demo-sms.outbound", "b"),
        entry(12, "store", "c"),
    );
    store.journal_commit(&[a.clone(), b.clone()], &[]).await.unwrap();
    // One commit adds and deletes: a row added and done in the same commit leaves nothing.
    let probe = entry(13, "", "");
    store
        .journal_commit(&[c.clone(), probe], &[10, 13])
        .await
        .unwrap();
    assert_eq!(store.journal_pending().await.unwrap(), vec![b.clone(), c.clone()]);
    // A batch larger than one statement.
    let many: Vec<JournalEntry> = (100..1_300).map(|i| entry(i, "store", &i.to_string())).collect();
    store.journal_commit(&many, &[11]).await.unwrap();
    let pending = store.journal_pending().await.unwrap();
    assert_eq!(pending.len(), 1 + many.len());
    assert_eq!(pending[0], c);
    assert_eq!(pending.last(), many.last());
    let ids: Vec<i64> = many.iter().map(|e| e.id).chain([12]).collect();
    store.journal_commit(&[], &ids).await.unwrap();
    assert!(store.journal_pending().await.unwrap().is_empty());
}

async fn a_journal_commit_that_fails_writes_nothing(store: Arc<dyn Store>) {
    let a = entry(1, "store", "a");
    store.journal_commit(std::slice::from_ref(&a), &[]).await.unwrap();
    // The same id again: the whole commit is refused, the done row is not deleted.
    let err = store
        .journal_commit(&[entry(2, "store", "b"), a.clone()], &[1])
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::Rejected(_) | StoreError::Unavailable(_)),
        "{err:?}"
    );
    assert_eq!(store.journal_pending().await.unwrap(), vec![a]);
}

conformance!(
    journal_rows_stay_until_done_and_come_back_in_order,
    a_journal_commit_that_fails_writes_nothing,
);
