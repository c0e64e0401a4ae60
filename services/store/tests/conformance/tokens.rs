//! API tokens.

use super::*;

fn token(name: &str, hash: &str, created: i64) -> ApiToken {
    ApiToken {
        id: Uuid::now_v7(),
        name: name.into(),
        hash: hash.repeat(32),
        scopes: vec!["send".into(), "read".into()],
        created_at: DateTime::from_timestamp(created, 0).unwrap(),
        last_used_at: None,
        revoked_at: None,
    }
}

async fn tokens_are_found_by_hash_only(store: Arc<dyn Store>) {
    let t = token("registry", "ab", 1_764_000_000);
    store.put_token(&t).await.unwrap();
    assert_eq!(store.token_by_hash(&t.hash).await.unwrap(), Some(t.clone()));
    assert_eq!(store.token_by_hash(&"cd".repeat(32)).await.unwrap(), None);
}

async fn tokens_are_listed_marked_used_and_revoked_once(store: Arc<dyn Store>) {
    let (a, b) = (
        token("registry", "ab", 1_764_000_000),
        token("clinic-app", "cd", 1_764_000_100),
    );
    store.put_token(&b).await.unwrap();
    store.put_token(&a).await.unwrap();
    assert_eq!(
        store.tokens().await.unwrap(),
        [a.clone(), b.clone()],
        "oldest first"
    );

    // Used: the mark only moves forward.
    let used = Utc.timestamp_opt(1_764_100_000, 0).unwrap();
    store.touch_token(a.id, used).await.unwrap();
    store
        .touch_token(a.id, used - chrono::TimeDelta::minutes(5))
        .await
        .unwrap();
    let found = store.token_by_hash(&a.hash).await.unwrap().unwrap();
    assert_eq!(found.last_used_at, Some(used));

    // Revoked: listed with its time, never found by hash again; the first time is kept.
    let at = Utc.timestamp_opt(1_764_200_000, 0).unwrap();
    assert!(store.revoke_token(a.id, at).await.unwrap());
    assert!(!store
        .revoke_token(a.id, at + chrono::TimeDelta::hours(1))
        .await
        .unwrap());
    assert!(!store.revoke_token(Uuid::now_v7(), at).await.unwrap(), "unknown");
    assert_eq!(store.token_by_hash(&a.hash).await.unwrap(), None);
    let listed = store.tokens().await.unwrap();
    assert_eq!(listed[0].revoked_at, Some(at));
    assert_eq!(listed[0].last_used_at, Some(used));
    assert_eq!(listed[1], b, "the other token is untouched");
    assert_eq!(store.token_by_hash(&b.hash).await.unwrap(), Some(b));
}

conformance!(
    tokens_are_found_by_hash_only,
    tokens_are_listed_marked_used_and_revoked_once,
);
