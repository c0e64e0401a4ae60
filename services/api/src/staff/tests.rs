//! The staff routes end to end over an in-memory store: sign-in, cookies, CSRF, roles,
//! expiry, one-time passwords, sign-out, backoff, tokens, the studio's files.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use chrono::Utc;
use seedgate_runtime::store::{ApiToken, StaffUser};
use serde_json::{json, Value};
use tower::ServiceExt;
use uuid::Uuid;

use super::memory::Memory;
use super::{password, router, StaffAuth};
use crate::auth::{hash_token, Limiter};

struct Env {
    app: Router,
    mem: Arc<Memory>,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map(|v| v.to_str().unwrap())
            .unwrap_or_default()
    }
    /// The `sg_session` value this reply sets.
    fn cookie(&self) -> Option<String> {
        let v = self.headers.get(header::SET_COOKIE)?.to_str().ok()?;
        v.strip_prefix("sg_session=")?
            .split(';')
            .next()
            .map(str::to_owned)
    }
}

fn env() -> Env {
    let mem = Arc::new(Memory::default());
    let auth = StaffAuth::new(mem.clone(), mem.clone(), Arc::new(Limiter::new(0, 1)));
    Env {
        app: router::<StaffAuth>().with_state(auth),
        mem,
    }
}

impl Env {
    async fn user(&self, email: &str, role: &str, pass: &str, must_change: bool) -> StaffUser {
        let user = StaffUser {
            id: Uuid::now_v7(),
            email: email.into(),
            role: role.into(),
            password_hash: password::hash(pass),
            must_change,
            disabled: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        self.mem.users.lock().unwrap().push(user.clone());
        user
    }

    fn token(&self, scopes: &[&str]) -> String {
        let secret = format!("sg_{}", Uuid::now_v7().simple());
        self.mem.tokens.lock().unwrap().push(ApiToken {
            id: Uuid::now_v7(),
            name: "script".into(),
            hash: hash_token(&secret),
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            created_at: Utc::now(),
        });
        secret
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, String)>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some((ct, b)) => req.header(header::CONTENT_TYPE, ct).body(Body::from(b)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (resp.status(), resp.headers().clone());
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn sign_in(&self, email: &str, pass: &str, next: &str) -> Reply {
        let form = format!("email={}&password={}&next={}", enc(email), enc(pass), enc(next));
        self.call(
            "POST",
            "/studio/login",
            &[],
            Some(("application/x-www-form-urlencoded", form)),
        )
        .await
    }

    /// Signs in and returns the cookie header and the session's CSRF token.
    async fn session(&self, email: &str, pass: &str) -> (String, String) {
        let r = self.sign_in(email, pass, "").await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        let cookie = format!("sg_session={}", r.cookie().unwrap());
        let me = self.call("GET", "/api/v1/me", &[("cookie", &cookie)], None).await;
        (cookie, me.json()["csrf"].as_str().unwrap().to_owned())
    }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

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
        (StatusCode::UNAUTHORIZED, Some("unknown token"))
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

#[tokio::test]
async fn the_studio_files_are_cached_for_a_year_and_gzipped_when_taken() {
    let e = env();
    let url = super::studio::asset_url("login.css");
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
    assert_eq!(
        e.call("GET", "/studio/assets/nope.js", &[], None).await.status,
        StatusCode::NOT_FOUND
    );
    for path in ["/studio", "/"] {
        assert_eq!(e.call("GET", path, &[], None).await.location(), "/studio/");
    }
}
