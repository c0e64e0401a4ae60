//! The sign-in pages: `/studio/login`, `/studio/password`, `/studio/logout`, rendered with
//! minijinja (templates in `templates/`, auto-escaped), with no script and no outside resource.

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequestParts, RawQuery, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Environment};
use serde::Deserialize;

use super::{backoff, password, SignedIn, StaffAuth};
use crate::ApiError;

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    for (name, text) in [
        ("layout.html", include_str!("templates/layout.html")),
        ("login.html", include_str!("templates/login.html")),
        ("password.html", include_str!("templates/password.html")),
        ("message.html", include_str!("templates/message.html")),
    ] {
        env.add_template(name, text)
            .unwrap_or_else(|e| unreachable!("template {name} parses (a unit test renders it): {e}"));
    }
    env
});

/// Pages allow nothing but their own stylesheet and same-origin form posts.
const PAGE_CSP: &str =
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page with the headers every page carries.
pub(super) fn html(status: StatusCode, body: String, csp: &'static str) -> Response {
    let mut resp = (status, body).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

fn render(status: StatusCode, name: &str, ctx: minijinja::Value) -> Response {
    let ctx = context! { css => super::studio::asset_url("login.css"), ..ctx };
    match TEMPLATES.get_template(name).and_then(|t| t.render(ctx)) {
        Ok(body) => html(status, body, PAGE_CSP),
        Err(e) => {
            tracing::error!(error = %e, template = name, "a studio page did not render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render").into_response()
        }
    }
}

/// A short page with a message in its alert and a link on.
fn message(status: StatusCode, title: &str, error: &str, link: &str, link_text: &str) -> Response {
    render(status, "message.html", context! { title, error, link, link_text })
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `next` if it is a path of the studio or the console on this site, else `/studio/`.
pub(super) fn safe_next(next: Option<&str>) -> String {
    next.filter(|n| {
        (n.starts_with("/studio/") || n.starts_with("/console/"))
            && !n.contains("//")
            && n.bytes().all(|b| b.is_ascii_graphic() && b != b'\\')
    })
    .unwrap_or("/studio/")
    .to_owned()
}

fn next_of(raw: Option<String>) -> String {
    let raw = raw.unwrap_or_default();
    let next = form_urlencoded::parse(raw.as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned());
    safe_next(next.as_deref())
}

/// The client's address (for the backoff and the audit trail), when the server records it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// A form post from another site (login CSRF) is refused: the browser says where it came from.
fn cross_site(headers: &HeaderMap) -> bool {
    let get = |k: &str| headers.get(k).and_then(|v| v.to_str().ok());
    if get("sec-fetch-site").is_some_and(|s| s == "cross-site") {
        return true;
    }
    match (get("origin"), get("host")) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, h)| h) != Some(host),
        _ => false,
    }
}

fn form<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, serde_urlencoded::de::Error> {
    serde_urlencoded::from_bytes(body)
}

fn bad_form(e: serde_urlencoded::de::Error) -> Response {
    message(
        StatusCode::BAD_REQUEST,
        "Something went wrong",
        &format!("The form did not read: {e}."),
        "/studio/login",
        "Back to sign-in",
    )
}

fn too_many(wait: std::time::Duration) -> Response {
    let secs = backoff::secs(wait);
    let mut resp = message(
        StatusCode::TOO_MANY_REQUESTS,
        "Sign in",
        &format!("Too many attempts. Try again in {secs} s."),
        "/studio/login",
        "Back to sign-in",
    );
    if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

fn stale_form() -> Response {
    message(
        StatusCode::FORBIDDEN,
        "Form expired",
        "This form has expired. Reload the page and try again.",
        "/studio/",
        "Back to the studio",
    )
}

fn failed(e: ApiError) -> Response {
    message(
        e.status(),
        "Something went wrong",
        &e.message,
        "/studio/login",
        "Try again",
    )
}

fn login_form(status: StatusCode, next: &str, email: &str, error: Option<&str>) -> Response {
    render(
        status,
        "login.html",
        context! { title => "Sign in", next, email, error },
    )
}

pub(super) async fn login_page(
    State(auth): State<StaffAuth>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let next = next_of(q);
    match auth.signed_in(&headers).await {
        Ok(Some(s)) if !s.user.must_change => see_other(&next),
        _ => login_form(StatusCode::OK, &next, "", None),
    }
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: Option<String>,
}

pub(super) async fn login(
    State(auth): State<StaffAuth>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if cross_site(&headers) {
        return stale_form();
    }
    let f: LoginForm = match form(&body) {
        Ok(f) => f,
        Err(e) => return bad_form(e),
    };
    let next = safe_next(f.next.as_deref());
    let email = f.email.trim().to_lowercase();
    let addr = addr.map(|a| a.to_string());
    let now = tokio::time::Instant::now();
    if let Some(wait) = auth.backoff.blocked(&email, addr.as_deref(), now) {
        metrics::counter!("seedgate_api_staff_signins_total", "outcome" => "backoff").increment(1);
        return too_many(wait);
    }
    let user = match auth.staff.user_by_email(&email).await {
        Ok(u) => u.filter(|u| !u.disabled),
        Err(e) => return failed(e.into()),
    };
    let ok = password::verify_blocking(f.password, user.as_ref().map(|u| u.password_hash.clone())).await;
    let Some(user) = user.filter(|_| ok) else {
        auth.backoff.fail(&email, addr.as_deref(), now);
        metrics::counter!("seedgate_api_staff_signins_total", "outcome" => "wrong").increment(1);
        return login_form(
            StatusCode::UNAUTHORIZED,
            &next,
            &email,
            Some("Wrong email or password."),
        );
    };
    auth.backoff.succeed(&email);
    metrics::counter!("seedgate_api_staff_signins_total", "outcome" => "ok").increment(1);
    let secret = match auth.start_session(&user).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    let to = if user.must_change {
        format!(
            "/studio/password?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        )
    } else {
        next
    };
    ([auth.cookies.set(&headers, &secret)], see_other(&to)).into_response()
}

fn password_form(status: StatusCode, s: &SignedIn, next: &str, error: Option<&str>) -> Response {
    render(
        status,
        "password.html",
        context! {
            title => "Choose a password", error, next, csrf => s.session.csrf, email => s.user.email,
            must_change => s.user.must_change, min_len => password::MIN_LEN,
        },
    )
}

/// Signed in, or the redirect to sign in (and come back to `back`).
async fn require(auth: &StaffAuth, headers: &HeaderMap, back: &str) -> Result<SignedIn, Response> {
    match auth.signed_in(headers).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => {
            let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
            Err(see_other(&format!("/studio/login?next={next}")))
        }
        Err(e) => Err(failed(e)),
    }
}

pub(super) async fn password_page(
    State(auth): State<StaffAuth>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let next = next_of(q);
    match require(&auth, &headers, "/studio/password").await {
        Ok(s) => password_form(StatusCode::OK, &s, &next, None),
        Err(resp) => resp,
    }
}

#[derive(Debug, Deserialize)]
struct PasswordForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
    #[serde(default)]
    next: Option<String>,
}

pub(super) async fn password(
    State(auth): State<StaffAuth>,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let s = match require(&auth, &headers, "/studio/password").await {
        Ok(s) => s,
        Err(resp) => return resp,
    };
    let f: PasswordForm = match form(&body) {
        Ok(f) => f,
        Err(e) => return bad_form(e),
    };
    if cross_site(&headers) || !super::actor::csrf_ok(&s, Some(&f.csrf)) {
        return stale_form();
    }
    let next = safe_next(f.next.as_deref());
    let (email, addr) = (s.user.email.clone(), addr.map(|a| a.to_string()));
    let now = tokio::time::Instant::now();
    if let Some(wait) = auth.backoff.blocked(&email, addr.as_deref(), now) {
        return too_many(wait);
    }
    if !password::verify_blocking(f.current.clone(), Some(s.user.password_hash.clone())).await {
        auth.backoff.fail(&email, addr.as_deref(), now);
        return password_form(
            StatusCode::UNAUTHORIZED,
            &s,
            &next,
            Some("The current password is wrong."),
        );
    }
    if let Err(e) = password::check_new(&f.new, &f.confirm, &f.current) {
        return password_form(StatusCode::BAD_REQUEST, &s, &next, Some(e));
    }
    let hash = password::hash_blocking(f.new).await;
    let done = async {
        auth.staff.user_set_password(s.user.id, &hash, false).await?;
        // Every other browser signs in again; this one gets a fresh session.
        auth.staff.staff_sessions_delete_user(s.user.id).await?;
        auth.start_session(&s.user).await
    };
    match done.await {
        Ok(secret) => {
            auth.backoff.succeed(&email);
            ([auth.cookies.set(&headers, &secret)], see_other(&next)).into_response()
        }
        Err(e) => failed(e),
    }
}

#[derive(Debug, Deserialize)]
struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

pub(super) async fn logout(State(auth): State<StaffAuth>, headers: HeaderMap, body: Bytes) -> Response {
    let s = match auth.signed_in(&headers).await {
        Ok(s) => s,
        Err(e) => return failed(e),
    };
    if let Some(s) = s {
        let given = form::<LogoutForm>(&body)
            .ok()
            .map(|f| f.csrf)
            .filter(|c| !c.is_empty());
        let given = given.or_else(|| {
            headers
                .get(super::actor::CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        });
        if !super::actor::csrf_ok(&s, given.as_deref()) {
            return stale_form();
        }
        if let Err(e) = auth.staff.staff_session_delete(&s.session.hash).await {
            return failed(e.into());
        }
    }
    ([auth.cookies.clear(&headers)], see_other("/studio/login")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_a_studio_or_console_path() {
        for (given, kept) in [
            (Some("/studio/flows/demo.yaml"), "/studio/flows/demo.yaml"),
            (Some("/console/"), "/console/"),
            (Some("https://evil.example/studio/"), "/studio/"),
            (Some("//evil.example/studio/"), "/studio/"),
            (Some("/studio//evil.example"), "/studio/"),
            (Some("/studio/\\evil"), "/studio/"),
            (Some("/api/v1/users"), "/studio/"),
            (Some("/studio"), "/studio/"),
            (None, "/studio/"),
        ] {
            assert_eq!(safe_next(given), kept, "{given:?}");
        }
    }

    #[test]
    fn every_page_renders_with_its_labels() {
        let body = |r: Response| r.status();
        assert_eq!(
            body(login_form(StatusCode::OK, "/studio/", "", None)),
            StatusCode::OK
        );
        let t = TEMPLATES
            .get_template("login.html")
            .unwrap_or_else(|e| panic!("{e}"));
        let html = t
            .render(context! { title => "Sign in", next => "/studio/\"><x>", email => "", error => "Wrong email or password.", css => "/c" })
            .unwrap_or_default();
        for needle in [
            r#"<label for="email">Email</label>"#,
            r#"<label for="password">Password</label>"#,
            r#"<button type="submit">Sign in</button>"#,
            r#"autocomplete="username""#,
            r#"autocomplete="current-password""#,
            r#"<p class="error" role="alert">Wrong email or password.</p>"#,
            "&quot;&gt;&lt;x&gt;",
        ] {
            assert!(html.contains(needle), "{needle} in {html}");
        }
        let html = TEMPLATES
            .get_template("password.html")
            .and_then(|t| {
                t.render(context! { title => "t", csrf => "c", min_len => 10, must_change => true })
            })
            .unwrap_or_default();
        assert!(
            html.contains(r#"autocomplete="new-password""#) && html.contains("one-time password"),
            "{html}"
        );
    }

    #[test]
    fn a_form_posted_from_another_site_is_refused() {
        let h = |pairs: &[(&'static str, &'static str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, HeaderValue::from_static(v));
            }
            h
        };
        assert!(!cross_site(&h(&[])));
        assert!(!cross_site(&h(&[
            ("origin", "http://gw:8080"),
            ("host", "gw:8080")
        ])));
        assert!(cross_site(&h(&[
            ("origin", "https://evil.example"),
            ("host", "gw:8080")
        ])));
        assert!(cross_site(&h(&[("sec-fetch-site", "cross-site")])));
        assert!(cross_site(&h(&[("origin", "null"), ("host", "gw:8080")])));
    }
}
