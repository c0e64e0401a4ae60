//! Flow files through the API (the studio's and scripts'): list, read, save a draft with an
//! optimistic revision, check without saving, publish, roll back, versions, restore, and the
//! editor's node positions.
//!
//! A draft is checked together with the other files' live versions (gotos and subscriptions
//! cross files), with the validator `seedgate flow validate` uses. A save that does not parse
//! is refused (422, nothing saved); one that parses is saved with its report, errors and all
//! (a draft may be unfinished); a publish of a draft with errors is refused (409). Every write
//! is one store transaction with its audit row.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use seedgate_flowlang::lines::locate;
use seedgate_flowlang::load::{self, FlowError, Source};
use seedgate_flowlang::model::FlowFile;
use seedgate_flowlang::paths::path_slices;
use seedgate_flowlang::validate::Report;
use seedgate_runtime::store::{FlowDraft, FlowVersion, Published, Saved};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::staff::Actor;
use crate::{Api, ApiError, ErrorCode};

/// The largest flow file taken.
pub const MAX_FILE: usize = 256 * 1024;
/// Audit rows listed with the versions.
const AUDIT_ROWS: u32 = 50;

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/flows", get(list))
        .route("/api/v1/flows/{file}", get(read).put(save))
        .route("/api/v1/flows/{file}/check", post(check))
        .route("/api/v1/flows/{file}/layout", put(layout))
        .route("/api/v1/flows/{file}/publish", post(publish))
        .route("/api/v1/flows/{file}/rollback", post(rollback))
        .route("/api/v1/flows/{file}/versions", get(versions))
        .route("/api/v1/flows/{file}/versions/{n}", get(version))
        .route("/api/v1/flows/{file}/versions/{n}/restore", post(restore))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FILE * 4))
}

/// A flow file's name: lower-case letters, digits, `-` and `_`, ending `.yaml` or `.yml`.
pub fn check_name(file: &str) -> Result<(), ApiError> {
    let stem = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))
        .unwrap_or("");
    let ok = !stem.is_empty()
        && stem.len() <= 64
        && stem
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && stem.starts_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "`{file}` is not a flow file name: use lower-case letters, digits, `-` and `_`, ending in `.yaml` (e.g. `registration.yaml`)"
        )))
    }
}

fn not_found(file: &str) -> ApiError {
    ApiError::not_found(format!("there is no flow file `{file}`"))
}

/// An error answer with more JSON beside `error`.
fn with(e: ApiError, extra: Value) -> Response {
    let mut body = json!({"error": {"code": e.code.as_str(), "message": e.message}});
    if let (Some(b), Some(x)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(x.clone());
    }
    (e.status(), Json(body)).into_response()
}

/// What a PUT or a check sends: the text and the revision it was based on.
struct Body {
    text: String,
    base: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonBody {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    doc: Option<Value>,
    #[serde(default)]
    base_revision: Option<i64>,
}

fn body_of(headers: &HeaderMap, bytes: &Bytes) -> Result<Body, ApiError> {
    let too_large = || {
        ApiError::new(
            ErrorCode::TooLarge,
            format!("a flow file may be at most {} KiB", MAX_FILE / 1024),
        )
    };
    let if_match = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.trim()
                .trim_start_matches("W/")
                .trim_matches('"')
                .trim_start_matches('r')
                .to_string()
        });
    let mut base = match if_match {
        Some(v) => Some(
            v.parse::<i64>()
                .map_err(|_| ApiError::bad_request("If-Match must be the ETag of the draft, e.g. \"r3\""))?,
        ),
        None => None,
    };
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/yaml")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = match kind.as_str() {
        "application/json" => {
            let b: JsonBody = serde_json::from_slice(bytes)
                .map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))?;
            base = b.base_revision.or(base);
            match (b.text, b.doc) {
                (Some(t), None) => t,
                (None, Some(doc)) => serde_yaml_ng::to_string(&doc)
                    .map_err(|e| ApiError::bad_request(format!("`doc` cannot be written as YAML: {e}")))?,
                _ => {
                    return Err(ApiError::bad_request(
                        "give the file as `text` (YAML) or as `doc` (JSON), one of them",
                    ))
                }
            }
        }
        "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" | "text/plain" => {
            if bytes.len() > MAX_FILE {
                return Err(too_large());
            }
            String::from_utf8(bytes.to_vec())
                .map_err(|_| ApiError::bad_request("the file is not UTF-8 text"))?
        }
        other => {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("send the file as application/yaml or application/json, not `{other}`"),
            ))
        }
    };
    if text.len() > MAX_FILE {
        return Err(too_large());
    }
    Ok(Body { text, base })
}

/// A problem as the studio shows it: on its flow and node when it can be placed.
fn problem(e: &FlowError, texts: &[Source]) -> Value {
    let text = texts.iter().find(|s| s.path == e.file).map(|s| s.text.as_str());
    let (flow, node) = match (text, e.line) {
        (Some(t), Some(l)) => locate(t, l).map_or((None, None), |(f, n)| (Some(f), n)),
        _ => (None, None),
    };
    json!({"file": e.file, "line": e.line, "flow": flow, "node": node, "message": e.reason})
}

/// The report of `text` as `file`, checked with the other live files: its own problems, and
/// the other files' problems it causes (a renamed flow another file goes to).
pub(crate) struct Checked {
    pub report: Report,
    pub parses: bool,
    pub json: Value,
    pub flows: Vec<String>,
}

pub(crate) fn check_text(api: &Api, file: &str, text: &str) -> Checked {
    let live = api.catalog.current();
    let limits = api.catalog.limits();
    // The other files' problems that are there already, with every live file as it is.
    let before = &live.errors;
    let mut sources = live.sources_except(file);
    sources.push(Source {
        path: file.to_string(),
        text: text.to_string(),
    });
    let parsed = serde_yaml_ng::from_str::<FlowFile>(text);
    let flows: Vec<String> = parsed
        .as_ref()
        .map(|f| f.flows.keys().cloned().collect())
        .unwrap_or_default();
    let (all, mut report) = load::check(&sources, &limits);
    report
        .errors
        .retain(|e| e.file == file || !before.contains(&e.to_string()));
    report.warnings.retain(|e| e.file == file);
    report.screens.retain(|s| s.file == file);
    let paths: serde_json::Map<String, Value> = flows
        .iter()
        .map(|f| (f.clone(), json!(path_slices(&all, f, &limits))))
        .collect();
    let screens: Vec<Value> = report
        .screens
        .iter()
        .map(|s| {
            let (flow, node) = screen_place(&s.path);
            json!({"flow": flow, "node": node, "language": s.language, "chars": s.chars, "limit": s.limit})
        })
        .collect();
    let json = json!({
        "errors": report.errors.iter().map(|e| problem(e, &sources)).collect::<Vec<_>>(),
        "warnings": report.warnings.iter().map(|e| problem(e, &sources)).collect::<Vec<_>>(),
        "paths": paths,
        "screens": screens,
    });
    Checked {
        report,
        parses: parsed.is_ok(),
        json,
        flows,
    }
}

/// `flows.<flow>.nodes.<node>.…` → (flow, node).
fn screen_place(path: &str) -> (Option<&str>, Option<&str>) {
    let mut p = path.split('.');
    match (p.next(), p.next(), p.next(), p.next()) {
        (Some("flows"), Some(f), Some("nodes"), Some(n)) => (Some(f), Some(n)),
        (Some("flows"), Some(f), _, _) => (Some(f), None),
        _ => (None, None),
    }
}

fn draft_json(d: &FlowDraft, published: Option<i64>, checked: &Checked) -> Value {
    let doc = serde_yaml_ng::from_str::<Value>(&d.text).ok();
    json!({
        "file": d.file,
        "revision": d.revision,
        "updated_by": d.updated_by,
        "updated_at": d.updated_at,
        "text": d.text,
        "doc": doc,
        "layout": d.layout,
        "published": published,
        "flows": checked.flows,
        "report": checked.json,
    })
}

fn version_json(v: &FlowVersion, live: bool) -> Value {
    json!({"number": v.number, "seq": v.seq, "published_by": v.published_by, "published_at": v.published_at, "live": live})
}

fn conflict(current: &FlowDraft) -> Response {
    with(
        ApiError::new(
            ErrorCode::VersionConflict,
            format!(
                "{} saved this draft first, at {} UTC (revision {}); nothing of yours was saved — reload their version or keep yours as a copy",
                current.updated_by,
                current.updated_at.format("%Y-%m-%d %H:%M"),
                current.revision
            ),
        ),
        json!({"current": {"revision": current.revision, "updated_by": current.updated_by, "updated_at": current.updated_at, "text": current.text}}),
    )
}

async fn published_of(api: &Api, file: &str) -> Result<Option<i64>, ApiError> {
    Ok(api.store.flow_versions(file).await?.first().map(|v| v.number))
}

async fn list(State(api): State<Api>, _actor: Actor) -> Result<Json<Value>, ApiError> {
    let mut files = Vec::new();
    for f in api.store.flow_files().await? {
        let (errors, warnings, flows) = match api.store.flow_draft(&f.file).await? {
            Some(d) => {
                let c = check_text(&api, &f.file, &d.text);
                (c.report.errors.len(), c.report.warnings.len(), c.flows)
            }
            None => (0, 0, Vec::new()),
        };
        files.push(json!({
            "file": f.file, "revision": f.revision, "updated_by": f.updated_by, "updated_at": f.updated_at,
            "published": f.published, "published_at": f.published_at,
            "flows": flows, "errors": errors, "warnings": warnings,
        }));
    }
    Ok(Json(json!({ "files": files })))
}

async fn read(
    State(api): State<Api>,
    _actor: Actor,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_name(&file)?;
    let d = api
        .store
        .flow_draft(&file)
        .await?
        .ok_or_else(|| not_found(&file))?;
    let etag = format!("\"r{}\"", d.revision);
    let yaml = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("yaml"));
    if yaml {
        return Ok((
            [
                (
                    header::CONTENT_TYPE,
                    "application/yaml; charset=utf-8".to_string(),
                ),
                (header::ETAG, etag),
            ],
            d.text,
        )
            .into_response());
    }
    let checked = check_text(&api, &file, &d.text);
    let published = published_of(&api, &file).await?;
    Ok(([(header::ETAG, etag)], Json(draft_json(&d, published, &checked))).into_response())
}

async fn save(
    State(api): State<Api>,
    actor: Actor,
    Path(file): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    actor.require_edit()?;
    check_name(&file)?;
    let body = body_of(&headers, &bytes)?;
    let checked = check_text(&api, &file, &body.text);
    if !checked.parses {
        let first = checked
            .report
            .errors
            .iter()
            .find(|e| e.file == file)
            .map_or_else(|| "the file does not parse".to_string(), ToString::to_string);
        return Ok(with(
            ApiError::new(ErrorCode::InvalidYaml, format!("{first}; nothing was saved")),
            json!({"report": checked.json}),
        ));
    }
    if body.base.is_some_and(|b| b > 0) && api.store.flow_draft(&file).await?.is_none() {
        return Err(ApiError::not_found(format!(
            "there is no flow file `{file}` to save revision {} over (base revision 0 makes a new file)",
            body.base.unwrap_or_default()
        )));
    }
    let saved = api
        .store
        .flow_save(&file, &body.text, body.base, &actor.name)
        .await?;
    match saved {
        Saved::Conflict(current) => Ok(conflict(&current)),
        Saved::Saved(d) => {
            tracing::info!(file = %file, revision = d.revision, actor = %actor.name, "flow draft saved");
            let status = if d.revision == 1 {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok((
                status,
                [(header::ETAG, format!("\"r{}\"", d.revision))],
                Json(json!({
                    "file": d.file, "revision": d.revision, "updated_by": d.updated_by,
                    "updated_at": d.updated_at, "report": checked.json,
                })),
            )
                .into_response())
        }
    }
}

/// `POST …/check`: the body's report, nothing saved; with the file both as JSON (`doc`) and as
/// the YAML a save would write (`text`), so the studio needs no YAML code of its own.
async fn check(
    State(api): State<Api>,
    actor: Actor,
    Path(file): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<Json<Value>, ApiError> {
    actor.require_edit()?;
    check_name(&file)?;
    let body = body_of(&headers, &bytes)?;
    let checked = check_text(&api, &file, &body.text);
    let doc = serde_yaml_ng::from_str::<Value>(&body.text).ok();
    Ok(Json(json!({
        "report": checked.json, "parses": checked.parses, "flows": checked.flows,
        "doc": doc, "text": body.text,
    })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LayoutBody {
    positions: serde_json::Map<String, Value>,
}

async fn layout(
    State(api): State<Api>,
    actor: Actor,
    Path(file): Path<String>,
    Json(body): Json<LayoutBody>,
) -> Result<StatusCode, ApiError> {
    actor.require_edit()?;
    check_name(&file)?;
    for (k, v) in &body.positions {
        let ok = v.get("x").is_some_and(Value::is_number) && v.get("y").is_some_and(Value::is_number);
        if !ok {
            return Err(ApiError::bad_request(format!(
                "position `{k}` must be {{\"x\": number, \"y\": number}}"
            )));
        }
    }
    if api
        .store
        .flow_set_layout(&file, &Value::Object(body.positions))
        .await?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&file))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    #[serde(default)]
    base_revision: Option<i64>,
}

fn publish_body(bytes: &Bytes) -> Result<PublishBody, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(PublishBody::default());
    }
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("bad JSON body: {e}")))
}

/// Refuses a draft with errors: 409 naming them.
fn refuse_errors(checked: &Checked, what: &str) -> Option<Response> {
    if checked.report.errors.is_empty() {
        return None;
    }
    let names: Vec<String> = checked
        .report
        .errors
        .iter()
        .take(3)
        .map(ToString::to_string)
        .collect();
    let more = checked.report.errors.len().saturating_sub(3);
    let message = format!(
        "{what} has {} error(s) and cannot be published: {}{}",
        checked.report.errors.len(),
        names.join("; "),
        if more > 0 {
            format!(" (and {more} more)")
        } else {
            String::new()
        }
    );
    Some(with(
        ApiError::new(ErrorCode::InvalidFlow, message),
        json!({"report": checked.json}),
    ))
}

async fn publish(
    State(api): State<Api>,
    actor: Actor,
    Path(file): Path<String>,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    actor.require_publish()?;
    check_name(&file)?;
    let body = publish_body(&bytes)?;
    let d = api
        .store
        .flow_draft(&file)
        .await?
        .ok_or_else(|| not_found(&file))?;
    if body.base_revision.is_some_and(|b| b != d.revision) {
        return Ok(conflict(&d));
    }
    let checked = check_text(&api, &file, &d.text);
    if let Some(refused) = refuse_errors(&checked, "the draft") {
        return Ok(refused);
    }
    // The draft checked is the one published: a save in between is a conflict.
    match api
        .store
        .flow_publish(&file, Some(d.revision), &actor.name)
        .await?
    {
        Published::Published(v) => {
            tracing::info!(file = %file, version = v.number, seq = v.seq, actor = %actor.name, "flow file published");
            let _ = api.catalog.refresh(api.store.as_ref()).await;
            Ok(Json(json!({"version": version_json(&v, true)})).into_response())
        }
        Published::Conflict(current) => Ok(conflict(&current)),
        Published::NoDraft => Err(not_found(&file)),
    }
}

/// Publishes the version before the live one again (as a new version); the draft is left as
/// it is.
async fn rollback(
    State(api): State<Api>,
    actor: Actor,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    actor.require_publish()?;
    check_name(&file)?;
    let versions = api.store.flow_versions(&file).await?;
    let Some(previous) = versions.get(1) else {
        return Err(ApiError::new(
            ErrorCode::NotSupported,
            format!("`{file}` has no earlier version to roll back to"),
        ));
    };
    let checked = check_text(&api, &file, &previous.text);
    if let Some(refused) = refuse_errors(&checked, &format!("version {}", previous.number)) {
        return Ok(refused);
    }
    // One transaction: the old text as a new version; the draft is left as it is.
    let v = api
        .store
        .flow_republish(&file, previous.number, &actor.name)
        .await?
        .ok_or_else(|| not_found(&file))?;
    tracing::info!(file = %file, version = v.number, from = previous.number, actor = %actor.name, "flow file rolled back");
    let _ = api.catalog.refresh(api.store.as_ref()).await;
    Ok(Json(json!({"version": version_json(&v, true), "restored": previous.number})).into_response())
}

async fn versions(
    State(api): State<Api>,
    _actor: Actor,
    Path(file): Path<String>,
) -> Result<Json<Value>, ApiError> {
    check_name(&file)?;
    if api.store.flow_draft(&file).await?.is_none() {
        return Err(not_found(&file));
    }
    let versions = api.store.flow_versions(&file).await?;
    let audit = api.store.flow_audit(&file, AUDIT_ROWS).await?;
    Ok(Json(json!({
        "versions": versions.iter().enumerate().map(|(i, v)| version_json(v, i == 0)).collect::<Vec<_>>(),
        "audit": audit.iter().map(|a| json!({"action": a.action, "actor": a.actor, "revision": a.revision, "version": a.version, "at": a.at})).collect::<Vec<_>>(),
    })))
}

async fn version(
    State(api): State<Api>,
    _actor: Actor,
    Path((file, n)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    check_name(&file)?;
    let v = api
        .store
        .flow_version(&file, n)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("`{file}` has no version {n}")))?;
    let mut out = version_json(&v, false);
    out["text"] = json!(v.text);
    Ok(Json(out))
}

async fn restore(
    State(api): State<Api>,
    actor: Actor,
    Path((file, n)): Path<(String, i64)>,
) -> Result<Json<Value>, ApiError> {
    actor.require_edit()?;
    check_name(&file)?;
    let d = api
        .store
        .flow_restore(&file, n, &actor.name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("`{file}` has no version {n}")))?;
    tracing::info!(file = %file, version = n, revision = d.revision, actor = %actor.name, "flow version restored into the draft");
    let checked = check_text(&api, &file, &d.text);
    let published = published_of(&api, &file).await?;
    Ok(Json(draft_json(&d, published, &checked)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_checked() {
        for ok in ["registration.yaml", "demo.yml", "a-b_c1.yaml"] {
            assert!(check_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "../x.yaml",
            "X.yaml",
            ".yaml",
            "a.txt",
            "a b.yaml",
            "-a.yaml",
            "a/b.yaml",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn screens_are_placed_on_their_node() {
        assert_eq!(
            screen_place("flows.reg.nodes.welcome.menu"),
            (Some("reg"), Some("welcome"))
        );
        assert_eq!(screen_place("flows.reg.start"), (Some("reg"), None));
        assert_eq!(screen_place("message_sets.x"), (None, None));
    }
}
