//! API tokens.

use super::*;

async fn tokens_are_found_by_hash_only(store: Arc<dyn Store>) {
    let t = ApiToken {
        id: Uuid::now_v7(),
        name: "registry".into(),
        hash: "ab".repeat(32),
        scopes: vec!["send".into(), "read".into()],
        created_at: chrono::DateTime::from_timestamp(1_764_000_000, 0).unwrap(),
    };
    store.put_token(&t).await.unwrap();
    assert_eq!(store.token_by_hash(&t.hash).await.unwrap(), Some(t.clone()));
    assert_eq!(store.token_by_hash(&"cd".repeat(32)).await.unwrap(), None);
}

conformance!(tokens_are_found_by_hash_only,);
