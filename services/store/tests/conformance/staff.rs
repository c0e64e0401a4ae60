//! Staff accounts and their browser sessions.

use super::*;
use crate::helpers::at_ms;

fn user(email: &str) -> StaffUser {
    StaffUser {
        id: Uuid::now_v7(),
        email: email.into(),
        role: "author".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo".into(),
        must_change: true,
        disabled: false,
        created_at: at_ms(0),
        updated_at: at_ms(0),
    }
}

fn session(hash: &str, user_id: Uuid, expires_ms: i64) -> StaffSession {
    StaffSession {
        hash: hash.repeat(32),
        user_id,
        csrf: format!("csrf-{hash}"),
        created_at: at_ms(0),
        expires_at: at_ms(expires_ms),
    }
}

async fn staff_users_are_one_per_email(store: Arc<dyn Store>) {
    let zodwa = user("zodwa@example.org");
    let ana = user("ana@example.org");
    assert!(store.user_create(&zodwa).await.unwrap());
    assert!(store.user_create(&ana).await.unwrap());
    let taken = StaffUser {
        id: Uuid::now_v7(),
        role: "admin".into(),
        ..ana.clone()
    };
    assert!(!store.user_create(&taken).await.unwrap(), "the email is taken");
    assert_eq!(store.user_by_id(taken.id).await.unwrap(), None, "nothing written");
    assert_eq!(
        store.user_by_email("ana@example.org").await.unwrap(),
        Some(ana.clone())
    );
    assert_eq!(store.user_by_id(ana.id).await.unwrap(), Some(ana.clone()));
    assert_eq!(store.user_by_email("nobody@example.org").await.unwrap(), None);
    let emails: Vec<String> = store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(emails, ["ana@example.org", "zodwa@example.org"], "by email");
}

async fn staff_passwords_and_roles_change(store: Arc<dyn Store>) {
    let ana = user("ana@example.org");
    store.user_create(&ana).await.unwrap();
    assert!(store
        .user_set_password(ana.id, "$argon2id$new", false)
        .await
        .unwrap());
    let changed = store.user_by_id(ana.id).await.unwrap().unwrap();
    assert_eq!(
        (
            changed.password_hash.as_str(),
            changed.must_change,
            changed.role.as_str()
        ),
        ("$argon2id$new", false, "author")
    );
    assert!(changed.updated_at > ana.updated_at, "updated_at moves");
    assert_eq!(changed.created_at, ana.created_at);
    assert!(store.user_set_role(ana.id, "publisher", true).await.unwrap());
    let changed = store.user_by_email("ana@example.org").await.unwrap().unwrap();
    assert_eq!(
        (
            changed.role.as_str(),
            changed.disabled,
            changed.password_hash.as_str()
        ),
        ("publisher", true, "$argon2id$new")
    );
    let nobody = Uuid::now_v7();
    assert!(!store.user_set_password(nobody, "x", true).await.unwrap());
    assert!(!store.user_set_role(nobody, "admin", false).await.unwrap());
}

async fn staff_sessions_expire_slide_and_end(store: Arc<dyn Store>) {
    let (ana, bo) = (user("ana@example.org"), user("bo@example.org"));
    store.user_create(&ana).await.unwrap();
    store.user_create(&bo).await.unwrap();
    let (s1, s2, s3) = (
        session("a1", ana.id, 60_000),
        session("a2", ana.id, 60_000),
        session("b1", bo.id, 60_000),
    );
    for s in [&s1, &s2, &s3] {
        store.staff_session_put(s).await.unwrap();
    }
    assert_eq!(
        store.staff_session_get(&s1.hash, at_ms(59_999)).await.unwrap(),
        Some(s1.clone())
    );
    assert_eq!(
        store.staff_session_get(&s1.hash, at_ms(60_000)).await.unwrap(),
        None,
        "expired at its expiry"
    );
    assert_eq!(
        store.staff_session_get(&"ff".repeat(32), at_ms(0)).await.unwrap(),
        None
    );

    store.staff_session_touch(&s1.hash, at_ms(120_000)).await.unwrap();
    let slid = store
        .staff_session_get(&s1.hash, at_ms(90_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(slid.expires_at, at_ms(120_000));
    assert_eq!(
        (slid.csrf.as_str(), slid.created_at),
        (s1.csrf.as_str(), s1.created_at)
    );

    store.staff_session_delete(&s1.hash).await.unwrap();
    assert_eq!(store.staff_session_get(&s1.hash, at_ms(0)).await.unwrap(), None);
    store.staff_session_delete(&s1.hash).await.unwrap();

    assert_eq!(store.staff_sessions_delete_user(ana.id).await.unwrap(), 1);
    assert_eq!(store.staff_session_get(&s2.hash, at_ms(0)).await.unwrap(), None);
    assert_eq!(
        store.staff_session_get(&s3.hash, at_ms(0)).await.unwrap(),
        Some(s3),
        "others stay"
    );
    assert_eq!(store.staff_sessions_delete_user(ana.id).await.unwrap(), 0);
}

conformance!(
    staff_users_are_one_per_email,
    staff_passwords_and_roles_change,
    staff_sessions_expire_slide_and_end,
);
