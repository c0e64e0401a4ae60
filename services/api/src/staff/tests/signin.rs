//! Sign-in, the cookie, expiry, one-time passwords, sign-out, backoff, the studio's files.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use axum::http::{header, StatusCode};
use chrono::Utc;
use serde_json::json;

use super::{enc, env};
use crate::auth::hash_token;
use crate::staff::password;

#[tokio::test]
async fn a_wrong_password_is_refused_and_the_right_one_signs_in_with_a_strict_cookie() {
    let e = env();
    e.user("thandi@clinic.org", "author", "correct horse 1", false)
        .await;
    let page = e.call("GET", "/studio/login?next=/studio/flows", &[], None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains(r#"<label for="email">Email</label>"#),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains(r#"name="next" value="&#x2f;studio&#x2f;flows""#),
        "{}",
        page.body
    );
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'none'"));

    for (email, pass) in [
        ("thandi@clinic.org", "wrong one"),
        ("nobody@clinic.org", "correct horse 1"),
    ] {
        let r = e.sign_in(email, pass, "/studio/").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(
            r.body.contains(r#"role="alert">Wrong email or password.</p>"#),
            "{}",
            r.body
        );
        assert!(r.cookie().is_none());
    }

    let r = e
        .sign_in("Thandi@Clinic.org ", "correct horse 1", "/studio/flows/demo.yaml")
        .await;
    assert_eq!(
        (r.status, r.location()),
        (StatusCode::SEE_OTHER, "/studio/flows/demo.yaml")
    );
    let set = r.headers[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.ends_with("; HttpOnly; SameSite=Strict; Path=/"),
        "no Secure without TLS: {set}"
    );
    let secret = r.cookie().unwrap();
    assert_eq!(secret.len(), 64);
    assert!(
        e.mem.sessions.lock().unwrap().contains_key(&hash_token(&secret)),
        "only the hash is kept"
    );

    let cookie = format!("sg_session={secret}");
    let app = e.call("GET", "/studio/", &[("cookie", &cookie)], None).await;
    assert_eq!(app.status, StatusCode::OK);
    assert!(
        app.body.contains(r#"<meta name="csrf-token" content=""#) && app.body.contains("thandi@clinic.org")
    );
    assert_eq!(app.headers[header::CACHE_CONTROL], "no-cache");
    let etag = app.headers[header::ETAG].to_str().unwrap().to_owned();
    let again = e
        .call(
            "GET",
            "/studio/",
            &[("cookie", &cookie), ("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);

    let evil = e
        .sign_in("thandi@clinic.org", "correct horse 1", "https://evil.example/")
        .await;
    assert_eq!(evil.location(), "/studio/");
    let anon = e.call("GET", "/studio/", &[], None).await;
    assert_eq!(
        (anon.status, anon.location()),
        (StatusCode::SEE_OTHER, "/studio/login?next=/studio/")
    );
    let cross = e
        .call(
            "POST",
            "/studio/login",
            &[("origin", "https://evil.example"), ("host", "gw")],
            Some((
                "application/x-www-form-urlencoded",
                "email=thandi%40clinic.org&password=correct+horse+1".into(),
            )),
        )
        .await;
    assert_eq!(cross.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_expired_or_absent_session_is_told_to_sign_in_again() {
    let e = env();
    e.user("a@x.org", "author", "author pass 1", false).await;
    let (cookie, _) = e.session("a@x.org", "author pass 1").await;
    for s in e.mem.sessions.lock().unwrap().values_mut() {
        s.expires_at = Utc::now() - chrono::Duration::seconds(1);
    }
    for headers in [
        vec![("cookie", cookie.as_str())],
        vec![],
        vec![("cookie", "sg_session=forged")],
    ] {
        let r = e.call("GET", "/api/v1/me", &headers, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.json()["error"],
            json!({"code": "unauthorized", "message": "your session has expired; sign in again"})
        );
    }
    let r = e.call("GET", "/studio/", &[("cookie", &cookie)], None).await;
    assert_eq!(r.location(), "/studio/login?next=/studio/");
}

#[tokio::test]
async fn a_one_time_password_must_be_replaced_and_that_signs_out_other_sessions() {
    let e = env();
    let u = e.user("new@x.org", "admin", "one-time-pass", true).await;
    let r = e.sign_in("new@x.org", "one-time-pass", "/studio/flows").await;
    assert_eq!(r.location(), "/studio/password?next=%2Fstudio%2Fflows");
    let cookie = format!("sg_session={}", r.cookie().unwrap());
    let (other, _) = e.session("new@x.org", "one-time-pass").await;

    let r = e.call("GET", "/studio/", &[("cookie", &cookie)], None).await;
    assert_eq!(r.location(), "/studio/password?next=/studio/");
    let r = e.call("GET", "/api/v1/users", &[("cookie", &cookie)], None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.body.contains("choose your own password first"));
    let me = e.call("GET", "/api/v1/me", &[("cookie", &cookie)], None).await;
    assert_eq!(
        (me.json()["must_change"].clone(), me.json()["role"].clone()),
        (json!(true), json!("admin"))
    );
    let csrf = me.json()["csrf"].as_str().unwrap().to_owned();

    let page = e
        .call(
            "GET",
            "/studio/password?next=/studio/flows",
            &[("cookie", &cookie)],
            None,
        )
        .await;
    assert!(page.body.contains("one-time password") && page.body.contains(&csrf));
    let post = |csrf: &str, current: &str, new: &str, confirm: &str| {
        format!(
            "csrf={csrf}&current={}&new={}&confirm={}&next=%2Fstudio%2Fflows",
            enc(current),
            enc(new),
            enc(confirm)
        )
    };
    let form = "application/x-www-form-urlencoded";
    let r = e
        .call(
            "POST",
            "/studio/password",
            &[("cookie", &cookie)],
            Some((form, post("nope", "one-time-pass", "my own pass", "my own pass"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = e
        .call(
            "POST",
            "/studio/password",
            &[("cookie", &cookie)],
            Some((form, post(&csrf, "one-time-pass", "short", "short"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.body.contains("at least 10 characters"), "{}", r.body);
    let r = e
        .call(
            "POST",
            "/studio/password",
            &[("cookie", &cookie)],
            Some((form, post(&csrf, "wrong", "my own pass", "my own pass"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = e
        .call(
            "POST",
            "/studio/password",
            &[("cookie", &cookie)],
            Some((form, post(&csrf, "one-time-pass", "my own pass", "my own pass"))),
        )
        .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/studio/flows"));
    let fresh = format!("sg_session={}", r.cookie().unwrap());

    let stored = e
        .mem
        .users
        .lock()
        .unwrap()
        .iter()
        .find(|x| x.id == u.id)
        .cloned()
        .unwrap();
    assert!(!stored.must_change && password::verify("my own pass", &stored.password_hash));
    for old in [&cookie, &other] {
        let r = e.call("GET", "/api/v1/me", &[("cookie", old)], None).await;
        assert_eq!(
            r.status,
            StatusCode::UNAUTHORIZED,
            "the other sessions were signed out"
        );
    }
    let r = e.call("GET", "/api/v1/users", &[("cookie", &fresh)], None).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn signing_out_needs_the_csrf_token_and_ends_the_session() {
    let e = env();
    e.user("a@x.org", "author", "author pass 1", false).await;
    let (cookie, csrf) = e.session("a@x.org", "author pass 1").await;
    let form = "application/x-www-form-urlencoded";
    let r = e
        .call(
            "POST",
            "/studio/logout",
            &[("cookie", &cookie)],
            Some((form, "csrf=bad".into())),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = e
        .call(
            "POST",
            "/studio/logout",
            &[("cookie", &cookie)],
            Some((form, format!("csrf={csrf}"))),
        )
        .await;
    assert_eq!((r.status, r.location()), (StatusCode::SEE_OTHER, "/studio/login"));
    assert!(r.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert!(e.mem.sessions.lock().unwrap().is_empty());
    let r = e.call("GET", "/api/v1/me", &[("cookie", &cookie)], None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn repeated_wrong_passwords_are_answered_429_even_with_the_right_one() {
    let e = env();
    e.user("a@x.org", "author", "author pass 1", false).await;
    for _ in 0..5 {
        assert_eq!(
            e.sign_in("a@x.org", "guess", "").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let r = e.sign_in("a@x.org", "author pass 1", "").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        r.body.contains("Too many attempts. Try again in 2 s."),
        "{}",
        r.body
    );
    assert_eq!(r.headers[header::RETRY_AFTER], "2");
    assert!(r.cookie().is_none());
    assert_eq!(
        e.sign_in("b@x.org", "guess", "").await.status,
        StatusCode::UNAUTHORIZED,
        "another email is not held up"
    );
}

#[tokio::test]
async fn the_studio_files_are_cached_for_a_year_by_hash_and_gzipped_when_taken() {
    let e = env();
    let url = crate::staff::studio::asset_url("login.css");
    let r = e
        .call("GET", &url, &[("accept-encoding", "gzip, br")], None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.headers[header::CACHE_CONTROL],
        "public, max-age=31536000, immutable"
    );
    assert_eq!(r.headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    let plain = e.call("GET", &url, &[], None).await;
    assert!(plain.headers.get(header::CONTENT_ENCODING).is_none() && plain.body.contains("body{"));
    // Without its `?v=` (a module imported by relative path): asked again every load, 304 while
    // unchanged.
    let module = e.call("GET", "/studio/assets/login.css", &[], None).await;
    assert_eq!(module.headers[header::CACHE_CONTROL], "no-cache");
    let etag = module.headers[header::ETAG].to_str().unwrap().to_owned();
    let again = e
        .call(
            "GET",
            "/studio/assets/login.css",
            &[("if-none-match", &etag)],
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(
        e.call("GET", "/studio/assets/nope.js", &[], None).await.status,
        StatusCode::NOT_FOUND
    );
    for path in ["/studio", "/"] {
        assert_eq!(e.call("GET", path, &[], None).await.location(), "/studio/");
    }
}
