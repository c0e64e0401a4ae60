//! Staff accounts and the studio's sign-in against a live `seedgate up`, on SQLite and on
//! PostgreSQL: `seedgate user create`, sign-in wrong then right, the cookie's flags, the
//! one-time password replaced, CSRF, roles on the users API, sign-out, backoff, bearer tokens
//! beside cookies, and the studio's pages on the one HTTP port.

#![allow(clippy::unwrap_used)] // tests: panics are failures

mod common;

use std::process::Command;
use std::time::Duration;

use common::{env_for, error_of, temp_dir, Gateway, BIN};
use reqwest::header;
use serde_json::{json, Value};

/// `seedgate user <args>`: (exit code, stdout, stderr).
fn user(dir: &std::path::Path, env: &[(String, String)], args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("user")
        .args(args)
        .current_dir(dir)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(out.stdout),
        text(out.stderr),
    )
}

/// The one-time password `user create`/`user reset` printed: the last word of the output.
fn last_word(out: &str) -> String {
    out.split_whitespace().last().unwrap().to_owned()
}

struct Browser {
    base: String,
    http: reqwest::Client,
    cookie: Option<String>,
}

impl Browser {
    fn new(base: String) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base,
            http,
            cookie: None,
        }
    }

    fn keep_cookie(&mut self, resp: &reqwest::Response) {
        if let Some(set) = resp.headers().get(header::SET_COOKIE) {
            let v = set.to_str().unwrap();
            let value = v.strip_prefix("sg_session=").unwrap().split(';').next().unwrap();
            self.cookie = (!value.is_empty()).then(|| format!("sg_session={value}"));
        }
    }

    async fn form(&mut self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.http.post(format!("{}{path}", self.base)).form(fields);
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        let resp = req.send().await.unwrap();
        self.keep_cookie(&resp);
        resp
    }

    async fn get(&self, path: &str) -> reqwest::Response {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        req.send().await.unwrap()
    }

    /// A JSON call with the cookie, and the CSRF header if given.
    async fn api(&self, method: &str, path: &str, csrf: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(c) = &self.cookie {
            req = req.header(header::COOKIE, c);
        }
        if let Some(t) = csrf {
            req = req.header("x-csrf-token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn sign_in(&mut self, email: &str, password: &str) -> reqwest::Response {
        self.form(
            "/studio/login",
            &[("email", email), ("password", password), ("next", "/studio/")],
        )
        .await
    }

    /// Replaces the one-time password (signed in with it) with `new`.
    async fn choose_password(&mut self, current: &str, new: &str) {
        let (_, me) = self.api("GET", "/api/v1/me", None, None).await;
        let csrf = me["csrf"].as_str().unwrap().to_owned();
        let resp = self
            .form(
                "/studio/password",
                &[
                    ("csrf", &csrf),
                    ("current", current),
                    ("new", new),
                    ("confirm", new),
                    ("next", "/studio/"),
                ],
            )
            .await;
        assert_eq!(resp.status(), 303, "{}", resp.text().await.unwrap());
    }

    async fn csrf(&self) -> String {
        let (_, me) = self.api("GET", "/api/v1/me", None, None).await;
        me["csrf"].as_str().unwrap().to_owned()
    }
}

fn location(resp: &reqwest::Response) -> &str {
    resp.headers()[header::LOCATION].to_str().unwrap()
}

async fn staff(backend: &str) {
    let dir = temp_dir(&format!("staff-{backend}"));
    let env = env_for(backend, &[]);

    // The CLI: a one-time password as the last word; a bad role, a bad email, a taken email.
    let (code, out, err) = user(
        &dir,
        &env,
        &["create", "--email", "Admin@Clinic.org", "--role", "admin"],
    );
    assert_eq!(code, 0, "{err}");
    let admin_once = last_word(&out);
    assert!(admin_once.len() >= 12, "{out}");
    let (code, _, err) = user(
        &dir,
        &env,
        &["create", "--email", "admin@clinic.org", "--role", "admin"],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("a user with the email admin@clinic.org exists"),
        "{err}"
    );
    let (code, _, err) = user(
        &dir,
        &env,
        &["create", "--email", "x@clinic.org", "--role", "root"],
    );
    assert_eq!(code, 64);
    assert!(err.contains("unknown role `root`"), "{err}");
    let (code, _, err) = user(
        &dir,
        &env,
        &["create", "--email", "not-an-email", "--role", "author"],
    );
    assert_eq!((code, err.contains("not an email address")), (64, true), "{err}");
    let (code, out, _) = user(
        &dir,
        &env,
        &["create", "--email", "author@clinic.org", "--role", "author"],
    );
    assert_eq!(code, 0);
    let author_once = last_word(&out);
    let (_, listed, _) = user(&dir, &env, &["list"]);
    assert!(
        listed.contains("admin@clinic.org") && listed.contains("one-time password"),
        "{listed}"
    );
    let admin_token = common::create_token(&dir, &env, "admin");
    let read_token = common::create_token(&dir, &env, "read");

    let mut gw = Gateway::spawn(&["up"], &dir, &env);
    gw.ready(Duration::from_secs(10)).await;
    let mut b = Browser::new(gw.base());

    // The pages are on the HTTP port, beside the API's JSON 404.
    for (path, to) in [
        ("/", "/studio/"),
        ("/studio", "/studio/"),
        ("/studio/", "/studio/login?next=/studio/"),
    ] {
        let resp = b.get(path).await;
        assert_eq!((resp.status().as_u16(), location(&resp)), (303, to), "{path}");
    }
    let page = b.get("/studio/login").await.text().await.unwrap();
    for needle in [
        r#"<label for="email">Email</label>"#,
        r#"<label for="password">Password</label>"#,
        ">Sign in</button>",
    ] {
        assert!(page.contains(needle), "{needle}: {page}");
    }
    let (s, body) = b.api("GET", "/api/v1/nothing-here", None, None).await;
    assert_eq!((s, error_of(&body).0), (404, "not_found"));

    // Wrong, then right: a strict HttpOnly cookie, and the one-time password must go.
    let resp = b.sign_in("admin@clinic.org", "not it").await;
    assert_eq!(resp.status(), 401);
    assert!(resp.text().await.unwrap().contains("Wrong email or password."));
    let resp = b.sign_in("admin@clinic.org", &admin_once).await;
    assert_eq!(
        (resp.status().as_u16(), location(&resp)),
        (303, "/studio/password?next=%2Fstudio%2F")
    );
    let set = resp.headers()[header::SET_COOKIE].to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let (s, body) = b.api("GET", "/api/v1/users", None, None).await;
    assert_eq!(s, 403, "{body}");
    b.choose_password(&admin_once, "admin's own pass").await;
    let resp = b.get("/studio/").await;
    assert_eq!(resp.status(), 200);
    let html = resp.text().await.unwrap();
    let csrf = b.csrf().await;
    assert!(
        html.contains(&format!(r#"<meta name="csrf-token" content="{csrf}">"#)),
        "{html}"
    );

    // CSRF on changes; admins manage users.
    let new_user = json!({"email": "pub@clinic.org", "role": "publisher"});
    let (s, body) = b.api("POST", "/api/v1/users", None, Some(new_user.clone())).await;
    assert_eq!((s, error_of(&body).0), (403, "csrf"));
    let (s, body) = b
        .api("POST", "/api/v1/users", Some(&csrf), Some(new_user.clone()))
        .await;
    assert_eq!(s, 201, "{body}");
    assert!(body["password"].as_str().unwrap().len() >= 12);
    let (s, body) = b.api("POST", "/api/v1/users", Some(&csrf), Some(new_user)).await;
    assert_eq!((s, error_of(&body).0), (409, "user_exists"));
    let (_, body) = b.api("GET", "/api/v1/users", None, None).await;
    assert_eq!(body["users"].as_array().unwrap().len(), 3, "{body}");

    let mut author = Browser::new(gw.base());
    author.sign_in("author@clinic.org", &author_once).await;
    author.choose_password(&author_once, "author's own pass").await;
    let (s, body) = author.api("GET", "/api/v1/users", None, None).await;
    assert_eq!(
        (s, error_of(&body).1),
        (403, "managing users needs the admin role; you are an author")
    );
    let (_, me) = author.api("GET", "/api/v1/me", None, None).await;
    assert_eq!(
        (me["email"].clone(), me["role"].clone()),
        (json!("author@clinic.org"), json!("author"))
    );

    // An author edits drafts (CSRF on each change) but may not publish; the audit names them.
    let csrf_a = author.csrf().await;
    let doc = json!({"doc": {"flows": {"hello": {"start": "hi", "nodes": {"hi": {"end": {"text": "Hello."}}}}}}, "base_revision": 0});
    let (s, body) = author
        .api("PUT", "/api/v1/flows/hello.yaml", None, Some(doc.clone()))
        .await;
    assert_eq!((s, error_of(&body).0), (403, "csrf"), "{body}");
    let (s, body) = author
        .api("PUT", "/api/v1/flows/hello.yaml", Some(&csrf_a), Some(doc))
        .await;
    assert_eq!(
        (s, body["updated_by"].as_str()),
        (201, Some("author@clinic.org")),
        "{body}"
    );
    let (s, body) = author
        .api("POST", "/api/v1/flows/hello.yaml/publish", Some(&csrf_a), None)
        .await;
    assert_eq!(
        (s, error_of(&body).1),
        (403, "publishing needs the publisher role; you are an author"),
        "{body}"
    );
    let (_, body) = author
        .api("GET", "/api/v1/flows/hello.yaml/versions", None, None)
        .await;
    assert_eq!(body["versions"], json!([]), "{body}");
    assert_eq!(body["audit"][0]["actor"], "author@clinic.org", "{body}");

    // Sign-out ends the session; a stale or absent cookie gets the API's 401.
    let stale = author.cookie.clone();
    let csrf_a = author.csrf().await;
    let resp = author.form("/studio/logout", &[("csrf", &csrf_a)]).await;
    assert_eq!((resp.status().as_u16(), location(&resp)), (303, "/studio/login"));
    author.cookie = stale;
    let (s, body) = author.api("GET", "/api/v1/me", None, None).await;
    assert_eq!(
        (s, body["error"].clone()),
        (
            401,
            json!({"code": "unauthorized", "message": "your session has expired; sign in again"})
        )
    );

    // Backoff: after five wrong passwords even the right one waits.
    for _ in 0..5 {
        assert_eq!(author.sign_in("author@clinic.org", "guess").await.status(), 401);
    }
    let resp = author.sign_in("author@clinic.org", "author's own pass").await;
    assert_eq!(resp.status(), 429);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("Too many attempts. Try again in"));

    // Bearer tokens keep working, without CSRF; a read token only reads.
    let c = reqwest::Client::new();
    let r = c
        .get(format!("{}/api/v1/users", gw.base()))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .get(format!("{}/api/v1/me", gw.base()))
        .bearer_auth(&read_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["role"], "read");
    let r = c
        .post(format!("{}/api/v1/users", gw.base()))
        .bearer_auth(&read_token)
        .json(&json!({"email": "x@clinic.org", "role": "author"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The CLI resets a password: signed out everywhere, a one-time password again.
    let (code, out, _) = user(&dir, &env, &["reset", "--email", "admin@clinic.org"]);
    assert_eq!(code, 0);
    assert_eq!(b.api("GET", "/api/v1/me", None, None).await.0, 401);
    let resp = b.sign_in("admin@clinic.org", &last_word(&out)).await;
    assert!(location(&resp).starts_with("/studio/password"));

    assert!(gw.terminate().await.success(), "{:?}", gw.stderr());
    gw.assert_json_logs_without(&admin_once);
    gw.assert_json_logs_without("admin's own pass");
}

#[tokio::test]
async fn staff_sign_in_and_roles_hold_on_sqlite() {
    staff("sqlite").await;
}

#[tokio::test]
async fn staff_sign_in_and_roles_hold_on_postgres() {
    staff("postgres").await;
}
