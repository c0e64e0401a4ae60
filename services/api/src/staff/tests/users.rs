//! CSRF on changes, roles on the users API, disabling and resetting users, bearer tokens.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use axum::http::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use super::env;

#[tokio::test]
async fn changes_need_the_csrf_token_and_users_need_an_admin() {
    let e = env();
    e.user("admin@x.org", "admin", "admin pass 1", false).await;
    e.user("author@x.org", "author", "author pass 1", false).await;
    let (admin, csrf) = e.session("admin@x.org", "admin pass 1").await;
    let body = || {
        Some((
            "application/json",
            json!({"email": "Pub@X.org", "role": "publisher"}).to_string(),
        ))
    };

    let r = e
        .call("POST", "/api/v1/users", &[("cookie", &admin)], body())
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (StatusCode::FORBIDDEN, Some("csrf"))
    );
    let r = e
        .call(
            "POST",
            "/api/v1/users",
            &[("cookie", &admin), ("x-csrf-token", "0".repeat(64).as_str())],
            body(),
        )
        .await;
    assert_eq!(r.json()["error"]["code"], "csrf");
    let r = e
        .call(
            "POST",
            "/api/v1/users",
            &[("cookie", &admin), ("x-csrf-token", &csrf)],
            body(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.json()["user"]["email"], "pub@x.org");
    assert_eq!(r.json()["user"]["must_change"], true);
    let one_time = r.json()["password"].as_str().unwrap().to_owned();
    let r = e
        .call(
            "POST",
            "/api/v1/users",
            &[("cookie", &admin), ("x-csrf-token", &csrf)],
            body(),
        )
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("user_exists"))
    );
    let bad = Some((
        "application/json",
        json!({"email": "x@y.org", "role": "root"}).to_string(),
    ));
    let r = e
        .call(
            "POST",
            "/api/v1/users",
            &[("cookie", &admin), ("x-csrf-token", &csrf)],
            bad,
        )
        .await;
    assert!(r.json()["error"]["message"]
        .as_str()
        .unwrap()
        .contains("unknown role `root`"));

    let list = e.call("GET", "/api/v1/users", &[("cookie", &admin)], None).await;
    let users = list.json()["users"].as_array().unwrap().clone();
    assert_eq!(users.len(), 3);
    assert!(users.iter().all(|u| u.get("password_hash").is_none()));

    let (author, _) = e.session("author@x.org", "author pass 1").await;
    let r = e.call("GET", "/api/v1/users", &[("cookie", &author)], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        r.json()["error"]["message"],
        "managing users needs the admin role; you are an author"
    );

    let r = e.sign_in("pub@x.org", &one_time, "").await;
    assert!(r.location().starts_with("/studio/password"), "{}", r.location());
}

#[tokio::test]
async fn bearer_tokens_still_work_and_a_read_token_only_reads() {
    let e = env();
    let admin = e.token(&["admin"]);
    let reader = e.token(&["read"]);
    let sender = e.token(&["send"]);
    let bearer = |t: &str| format!("Bearer {t}");
    let r = e
        .call(
            "GET",
            "/api/v1/users",
            &[("authorization", &bearer(&admin))],
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let body = Some((
        "application/json",
        json!({"email": "ops@x.org", "role": "operator"}).to_string(),
    ));
    let r = e
        .call(
            "POST",
            "/api/v1/users",
            &[("authorization", &bearer(&admin))],
            body.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "a token needs no CSRF token");

    let r = e
        .call("GET", "/api/v1/me", &[("authorization", &bearer(&reader))], None)
        .await;
    assert_eq!(
        r.json(),
        json!({"email": "token:script", "role": "read", "csrf": null, "must_change": false})
    );
    let r = e
        .call(
            "GET",
            "/api/v1/users",
            &[("authorization", &bearer(&reader))],
            None,
        )
        .await;
    assert_eq!(
        r.json()["error"]["message"],
        "managing users needs the admin role; you are a read-only token"
    );
    let r = e
        .call(
            "POST",
            "/api/v1/users",
            &[("authorization", &bearer(&reader))],
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = e
        .call("GET", "/api/v1/me", &[("authorization", &bearer(&sender))], None)
        .await;
    assert_eq!(r.json()["error"]["message"], "this token lacks the `read` scope");
    let r = e
        .call("GET", "/api/v1/me", &[("authorization", "Bearer sg_nope")], None)
        .await;
    assert_eq!(
        (r.status, r.json()["error"]["message"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unknown or revoked token"))
    );
}

#[tokio::test]
async fn disabling_or_resetting_a_user_signs_them_out_everywhere() {
    let e = env();
    e.user("admin@x.org", "admin", "admin pass 1", false).await;
    let victim = e.user("a@x.org", "author", "author pass 1", false).await;
    let (admin, csrf) = e.session("admin@x.org", "admin pass 1").await;
    let (theirs, _) = e.session("a@x.org", "author pass 1").await;
    let h = [("cookie", admin.as_str()), ("x-csrf-token", csrf.as_str())];
    let patch = |v: Value| Some(("application/json", v.to_string()));

    let r = e
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", victim.id),
            &h,
            patch(json!({"role": "publisher"})),
        )
        .await;
    assert_eq!(r.json()["user"]["role"], "publisher", "{}", r.body);
    let me = e.call("GET", "/api/v1/me", &[("cookie", &theirs)], None).await;
    assert_eq!(me.json()["role"], "publisher", "a role change applies at once");

    let r = e
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", victim.id),
            &h,
            patch(json!({"disabled": true})),
        )
        .await;
    assert_eq!(r.json()["user"]["disabled"], true);
    assert_eq!(
        e.call("GET", "/api/v1/me", &[("cookie", &theirs)], None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        e.sign_in("a@x.org", "author pass 1", "").await.status,
        StatusCode::UNAUTHORIZED
    );

    let admin_id = e.mem.users.lock().unwrap()[0].id;
    let r = e
        .call(
            "PATCH",
            &format!("/api/v1/users/{admin_id}"),
            &h,
            patch(json!({"role": "author"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);

    e.call(
        "PATCH",
        &format!("/api/v1/users/{}", victim.id),
        &h,
        patch(json!({"disabled": false})),
    )
    .await;
    let (theirs, _) = e.session("a@x.org", "author pass 1").await;
    let r = e
        .call("POST", &format!("/api/v1/users/{}/reset", victim.id), &h, None)
        .await;
    let one_time = r.json()["password"].as_str().unwrap().to_owned();
    assert_eq!(
        e.call("GET", "/api/v1/me", &[("cookie", &theirs)], None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let r = e.sign_in("a@x.org", &one_time, "").await;
    assert!(r.location().starts_with("/studio/password"));
    let r = e
        .call(
            "POST",
            &format!("/api/v1/users/{}/reset", Uuid::now_v7()),
            &h,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
