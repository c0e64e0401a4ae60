//! The studio web app, embedded at build time (`build.rs` lists `services/api/studio/`):
//! `GET /studio/` renders its `index.html` for a signed-in user (and `GET /console/` its
//! `console.html`, for operators and admins) (minijinja: `{{ csrf }}`,
//! `{{ email }}`, `{{ role }}`, `{{ asset('app.js') }}` → `/studio/assets/app.js?v=<hash>`,
//! `{{ hashes['app.js'] }}`); `GET /studio/assets/<name>` serves every other file with an ETag
//! (its content hash), gzip-compressed (once, at first use) when the client takes it.
//!
//! Caching: a URL with `?v=<its hash>` (what `asset()` writes) names one content forever, so it
//! is `immutable` for a year; any other URL (an ES module imported by relative path, `./api.js`)
//! is `no-cache`: the browser asks again each load and gets a 304 while it is unchanged, so an
//! upgrade never leaves an old module beside a new one.

use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::sync::LazyLock;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::{context, Environment};
use sha2::{Digest, Sha256};

use super::StaffAuth;

mod files {
    include!(concat!(env!("OUT_DIR"), "/studio_files.rs"));
}

/// The studio app may load its own scripts, styles and images, and call this origin.
const APP_CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// One file, ready to serve.
#[derive(Debug)]
struct Asset {
    body: &'static [u8],
    gzip: Option<Vec<u8>>,
    /// The first 16 hex digits of its SHA-256.
    hash: String,
    content_type: &'static str,
}

#[derive(Debug)]
struct Assets {
    by_name: HashMap<&'static str, Asset>,
    index: Environment<'static>,
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn gzip(body: &[u8], content_type: &str) -> Option<Vec<u8>> {
    let compressible =
        content_type.starts_with("text/") || content_type.contains("json") || content_type.contains("svg");
    if !compressible || body.len() < 256 {
        return None;
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(body).ok()?;
    enc.finish().ok().filter(|z| z.len() < body.len())
}

fn short_hash(body: &[u8]) -> String {
    hex::encode(&Sha256::digest(body)[..8])
}

static ASSETS: LazyLock<Assets> = LazyLock::new(|| {
    let mut by_name = HashMap::new();
    let own: &[(&str, &[u8])] = &[("login.css", include_bytes!("templates/login.css"))];
    let mut index_text = None;
    let mut console_text = None;
    for (name, body) in files::FILES.iter().chain(own) {
        if *name == "index.html" {
            index_text = std::str::from_utf8(body).ok();
            continue;
        }
        if *name == "console.html" {
            console_text = std::str::from_utf8(body).ok();
            continue;
        }
        let content_type = content_type(name);
        by_name.insert(
            *name,
            Asset {
                body,
                gzip: gzip(body, content_type),
                hash: short_hash(body),
                content_type,
            },
        );
    }
    let mut index = Environment::new();
    let hashes: BTreeMap<String, String> = by_name
        .iter()
        .map(|(k, a)| ((*k).to_owned(), a.hash.clone()))
        .collect();
    index.add_global("hashes", minijinja::Value::from_serialize(&hashes));
    index.add_function("asset", |name: String| asset_url(&name));
    let text = index_text.unwrap_or(
        "<!doctype html><title>seedgate studio</title><p>The studio app is not part of this build.",
    );
    if let Err(e) = index.add_template("index.html", text) {
        tracing::error!(error = %e, "the studio's index.html is not a valid template");
    }
    let console = console_text
        .unwrap_or("<!doctype html><title>seedgate console</title><p>The console is not part of this build.");
    if let Err(e) = index.add_template("console.html", console) {
        tracing::error!(error = %e, "the console's console.html is not a valid template");
    }
    Assets { by_name, index }
});

/// `/studio/assets/<name>?v=<hash>` (without `?v` for a file that is not there).
pub(super) fn asset_url(name: &str) -> String {
    match ASSETS.by_name.get(name) {
        Some(a) => format!("/studio/assets/{name}?v={}", a.hash),
        None => format!("/studio/assets/{name}"),
    }
}

/// Whether `Accept-Encoding` takes gzip.
fn takes_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused =
                parts.any(|p| p.strip_prefix("q=").and_then(|q| q.parse::<f32>().ok()) == Some(0.0));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

fn not_modified(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
}

/// `GET /`, `GET /studio`.
pub(super) async fn root() -> Redirect {
    Redirect::to("/studio/")
}

/// Whether a query string is `v=<hash>` of the asset (among other pairs).
fn pinned(query: Option<&str>, hash: &str) -> bool {
    query.is_some_and(|q| q.split('&').any(|kv| kv.strip_prefix("v=") == Some(hash)))
}

/// A year and `immutable` for a URL pinned to its content; revalidate every time otherwise.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// `GET /studio/assets/<name>`.
pub(super) async fn asset(
    Path(name): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some(a) = ASSETS.by_name.get(name.as_str()) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such studio asset",
        )
            .into_response();
    };
    let etag = format!("\"{}\"", a.hash);
    let mut resp = if not_modified(&headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match a.gzip.as_ref().filter(|_| takes_gzip(&headers)) {
            Some(z) => ([(header::CONTENT_ENCODING, "gzip")], z.clone()).into_response(),
            None => a.body.into_response(),
        }
    };
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(a.content_type));
    let cache = if pinned(query.as_deref(), &a.hash) {
        IMMUTABLE
    } else {
        REVALIDATE
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// `GET /studio/`: the app, for a signed-in user who has chosen their password.
pub(super) async fn index(State(auth): State<StaffAuth>, headers: HeaderMap) -> Response {
    page(&auth, &headers, "/studio/", "index.html", |_| true).await
}

/// `GET /console/`: the operator console, the same app and sign-in as the studio, for the
/// `operator` and `admin` roles (anyone else signed in gets a 403 page saying so).
pub(super) async fn console(State(auth): State<StaffAuth>, headers: HeaderMap) -> Response {
    page(&auth, &headers, "/console/", "console.html", |r| r.can_operate()).await
}

/// `GET /console`.
pub(super) async fn console_root() -> Redirect {
    Redirect::to("/console/")
}

/// One of the app's pages at `path`, rendered from `template` for a signed-in user whose role
/// `allowed` takes.
async fn page(
    auth: &StaffAuth,
    headers: &HeaderMap,
    path: &str,
    template: &str,
    allowed: impl Fn(super::Role) -> bool,
) -> Response {
    let s = match auth.signed_in(headers).await {
        Ok(Some(s)) => s,
        Ok(None) => return Redirect::to(&format!("/studio/login?next={path}")).into_response(),
        Err(e) => return e.into_response(),
    };
    if s.user.must_change {
        return Redirect::to(&format!("/studio/password?next={path}")).into_response();
    }
    if !allowed(s.role) {
        let body = format!(
            "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Not for your role · seedgate</title>\
             <main><h1>Not for your role</h1><p>The console is for operators and admins; you are {}. \
             Ask an admin for the operator role, or go to <a href=\"/studio/\">the flow studio</a>.</p></main></html>",
            s.role.with_article()
        );
        return super::pages::html(StatusCode::FORBIDDEN, body, APP_CSP);
    }
    let ctx = context! { csrf => s.session.csrf, email => s.user.email, role => s.role.as_str() };
    let body = match ASSETS.index.get_template(template).and_then(|t| t.render(ctx)) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, template, "an app page did not render");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the page did not render").into_response();
        }
    };
    let etag = format!("\"{}\"", short_hash(body.as_bytes()));
    let mut resp = if not_modified(headers, &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        super::pages::html(StatusCode::OK, body, APP_CSP)
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::VARY, HeaderValue::from_static("Cookie"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_taken_unless_refused() {
        let h = |v: &'static str| {
            let mut h = HeaderMap::new();
            h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static(v));
            h
        };
        assert!(takes_gzip(&h("gzip, deflate, br")));
        assert!(takes_gzip(&h("br;q=1.0, gzip;q=0.8")));
        assert!(!takes_gzip(&h("gzip;q=0")));
        assert!(!takes_gzip(&h("br")));
        assert!(!takes_gzip(&HeaderMap::new()));
    }

    fn get(name: &str, query: Option<String>, if_none_match: Option<&str>) -> Response {
        let mut h = HeaderMap::new();
        if let Some(t) = if_none_match {
            h.insert(header::IF_NONE_MATCH, HeaderValue::from_str(t).unwrap());
        }
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(asset(Path(name.to_string()), RawQuery(query), h))
    }

    fn cache_control(r: &Response) -> &str {
        r.headers()[header::CACHE_CONTROL].to_str().unwrap()
    }

    #[test]
    fn a_pinned_url_is_immutable_and_a_module_import_revalidates() {
        let hash = ASSETS.by_name["login.css"].hash.clone();
        let etag = format!("\"{hash}\"");
        let pinned = get("login.css", Some(format!("v={hash}")), None);
        assert_eq!(pinned.status(), StatusCode::OK);
        assert_eq!(cache_control(&pinned), IMMUTABLE);
        assert_eq!(pinned.headers()[header::ETAG], etag.as_str());

        // `import './x.js'` asks without `?v`; an old hash is not this content either.
        for query in [None, Some("v=0123456789abcdef".to_string())] {
            let plain = get("login.css", query, None);
            assert_eq!(plain.status(), StatusCode::OK);
            assert_eq!(cache_control(&plain), "no-cache");
            assert_eq!(plain.headers()[header::ETAG], etag.as_str());
        }
        let again = get("login.css", None, Some(&etag));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(cache_control(&again), "no-cache");
        let changed = get("login.css", None, Some("\"0000000000000000\""));
        assert_eq!(changed.status(), StatusCode::OK);
    }

    #[test]
    fn assets_have_hashes_and_the_sign_in_stylesheet_is_one() {
        let url = asset_url("login.css");
        assert!(url.starts_with("/studio/assets/login.css?v="), "{url}");
        assert_eq!(url.len(), "/studio/assets/login.css?v=".len() + 16);
        assert_eq!(asset_url("nope.js"), "/studio/assets/nope.js");
        assert!(!ASSETS.by_name.contains_key("index.html"));
        let css = &ASSETS.by_name["login.css"];
        assert_eq!(css.content_type, "text/css; charset=utf-8");
        assert!(css.gzip.as_ref().is_some_and(|z| z.len() < css.body.len()));
    }
}
