//! The studio's phone simulator and the other read-only tools beside the editor:
//!
//! - `POST /api/v1/simulate`: one step of the real interpreter on a draft or the published
//!   flows, for a simulated contact (real contacts are never read or written; effects are
//!   listed, not carried out). The run's state goes back and forth with the client, so the
//!   server keeps nothing. Webhooks are called for real or answered by a stub. Screens are paged
//!   as the channel pages them.
//! - `POST /api/v1/flows/{file}/tests`: the file's transcript tests on its draft.
//! - `POST /api/v1/flows/{file}/preview`: the days a message set's messages go out for a date.
//! - `GET /api/v1/flows/{file}/stats`: how many sessions took each arrow and ended at each node.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{NaiveDate, Utc};
use seedgate_flowlang::interp::{step, Input, Output, RunContact, RunState, WebhookResponse};
use seedgate_flowlang::load::{self, Flows, Source};
use seedgate_flowlang::model::FlowChannel;
use seedgate_flowlang::pages::paginate;
use seedgate_flowlang::schedule;
use seedgate_flowlang::transcript;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::flowfiles::check_name;
use crate::staff::Actor;
use crate::{Api, ApiError};

/// Webhook calls followed in one simulated step at most.
const MAX_CALLS: usize = 10;
/// The simulated contact's number: never a real one.
pub const SIM_MSISDN: &str = "+000000000000";

pub fn router() -> Router<Api> {
    Router::new()
        .route("/api/v1/simulate", post(simulate))
        .route("/api/v1/flows/{file}/tests", post(tests))
        .route("/api/v1/flows/{file}/preview", post(preview))
        .route("/api/v1/flows/{file}/stats", get(stats))
}

/// The flows a simulation or test runs on: the file's draft checked with the other live
/// files, or the live flows.
async fn flows_of(api: &Api, file: &str, published: bool) -> Result<(Flows, Vec<String>), ApiError> {
    let live = api.catalog.current();
    if published {
        let names = match live.version_of(file) {
            Some(v) => names_in(&v.text),
            None => Vec::new(),
        };
        return Ok((live.flows.clone(), names));
    }
    let draft = api
        .store
        .flow_draft(file)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("there is no flow file `{file}`")))?;
    let mut sources = live.sources_except(file);
    sources.push(Source {
        path: file.to_string(),
        text: draft.text.clone(),
    });
    let (flows, _) = load::check(&sources, &api.catalog.limits());
    Ok((flows, names_in(&draft.text)))
}

fn names_in(text: &str) -> Vec<String> {
    serde_yaml_ng::from_str::<seedgate_flowlang::model::FlowFile>(text)
        .map(|f| f.flows.keys().cloned().collect())
        .unwrap_or_default()
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimRequest {
    file: String,
    #[serde(default)]
    source: Option<String>,
    flow: String,
    #[serde(default)]
    channel: Option<String>,
    /// What the last answer gave back; none to dial.
    #[serde(default)]
    state: Option<RunState>,
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    timeout: bool,
    #[serde(default)]
    webhooks: Option<String>,
    #[serde(default)]
    stub: Option<Stub>,
    #[serde(default)]
    contact: Option<SimContact>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stub {
    #[serde(default = "ok_status")]
    status: u16,
    #[serde(default)]
    body: Value,
}

fn ok_status() -> u16 {
    200
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimContact {
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    #[serde(default)]
    groups: Vec<String>,
}

async fn simulate(
    State(api): State<Api>,
    actor: Actor,
    Json(req): Json<SimRequest>,
) -> Result<Json<Value>, ApiError> {
    actor.require_edit()?;
    check_name(&req.file)?;
    let published = match req.source.as_deref().unwrap_or("draft") {
        "draft" => false,
        "published" => true,
        other => {
            return Err(ApiError::bad_request(format!(
                "`source` is `draft` or `published`, not `{other}`"
            )))
        }
    };
    let stubbed = match req.webhooks.as_deref().unwrap_or("stub") {
        "stub" => true,
        "real" => false,
        other => {
            return Err(ApiError::bad_request(format!(
                "`webhooks` is `real` or `stub`, not `{other}`"
            )))
        }
    };
    let (flows, _) = flows_of(&api, &req.file, published).await?;
    let Some(flow) = flows.get(&req.flow) else {
        return Err(ApiError::bad_request(format!(
            "there is no flow `{}` in the {} of `{}` (does the file parse?)",
            req.flow,
            if published { "published version" } else { "draft" },
            req.file
        )));
    };
    let ussd = flow.channel != FlowChannel::Sms;
    let channel = req.channel.as_deref().and_then(|c| api.registry.get(c));
    let defaults = seedgate_runtime::config::ChannelConfig::default();
    let cfg = channel.as_deref().unwrap_or(&defaults);
    let limit = if channel.is_some() {
        cfg.max_screen_chars
    } else {
        api.catalog.limits().max_screen_chars
    };
    let more_line = format!("{}. {}", cfg.more_key, cfg.more_label);

    let contact = match &req.state {
        Some(s) => s.contact.clone(),
        None => {
            let c = req.contact.unwrap_or_default();
            RunContact {
                msisdn: SIM_MSISDN.into(),
                language: c.language,
                fields: c.fields,
                groups: c.groups.into_iter().collect(),
                ..RunContact::default()
            }
        }
    };
    let now = Utc::now();
    let input = match (&req.state, &req.input, req.timeout) {
        (None, _, _) => Input::Start,
        (Some(_), _, true) => Input::Timeout,
        (Some(_), Some(text), false) => Input::Reply(text),
        (Some(_), None, false) => {
            return Err(ApiError::bad_request(
                "give the answer as `input`, `timeout: true`, or no `state` to dial",
            ))
        }
    };
    let step_err = |e: seedgate_flowlang::interp::StepError| {
        ApiError::bad_request(format!("the flow cannot go on: {e}"))
    };
    let mut out: Output =
        step(&flows, &req.flow, req.state.clone(), &contact, input, now).map_err(step_err)?;
    let mut entered = std::mem::take(&mut out.entered);
    let mut effects = std::mem::take(&mut out.effects);
    let mut calls = Vec::new();
    for _ in 0..MAX_CALLS {
        let Some(call) = out.call.take() else { break };
        let resp = if stubbed {
            let stub = req.stub.as_ref();
            WebhookResponse {
                status: stub.map_or(200, |s| s.status),
                body: stub.map_or_else(|| "{}".into(), |s| s.body.to_string()),
            }
        } else {
            real_call(&call).await
        };
        calls.push(json!({"node": call.node, "method": call.method, "url": call.url, "stubbed": stubbed, "status": resp.status, "body": resp.body}));
        out = step(
            &flows,
            &req.flow,
            out.state.take(),
            &contact,
            Input::Webhook(&resp),
            now,
        )
        .map_err(step_err)?;
        entered.append(&mut out.entered);
        effects.append(&mut out.effects);
    }
    let text = out.text.clone().unwrap_or_default();
    let ended = out.end || out.state.is_none();
    let pages: Vec<String> = if ussd {
        let mut pages = paginate(&text, limit, &more_line);
        let n = pages.len();
        for p in pages.iter_mut().take(n.saturating_sub(1)) {
            p.push('\n');
            p.push_str(&more_line);
        }
        pages
    } else {
        vec![text.clone()]
    };
    let node = out.state.as_ref().map(|s| (s.flow.clone(), s.node.clone()));
    Ok(Json(json!({
        "screen": {"text": text, "pages": pages, "continue": !ended, "more_key": cfg.more_key, "limit": limit},
        "flow": node.as_ref().map(|n| n.0.clone()).or_else(|| entered.last().map(|e| e.0.clone())),
        "node": node.as_ref().map(|n| n.1.clone()).or_else(|| entered.last().map(|e| e.1.clone())),
        "state": out.state,
        "entered": entered.iter().map(|(f, n)| json!({"flow": f, "node": n})).collect::<Vec<_>>(),
        "effects": effects,
        "webhooks": calls,
        "contact": out.contact,
        "results": out.state.as_ref().map(|s| json!(s.results)),
        "ussd": ussd,
    })))
}

/// A webhook call made for real from the simulator, bounded by the call's timeout.
async fn real_call(call: &seedgate_flowlang::interp::WebhookCall) -> WebhookResponse {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_default();
    let method = reqwest::Method::from_bytes(call.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut req = client
        .request(method, &call.url)
        .timeout(Duration::from_millis(call.timeout_ms.max(1)));
    for (k, v) in &call.headers {
        req = req.header(k, v);
    }
    if let Some(b) = &call.body {
        req = req.body(b.clone());
    }
    match req.send().await {
        Ok(r) => {
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            WebhookResponse {
                status,
                body: body.chars().take(64 * 1024).collect(),
            }
        }
        Err(_) => WebhookResponse {
            status: 0,
            body: String::new(),
        },
    }
}

async fn tests(
    State(api): State<Api>,
    actor: Actor,
    Path(file): Path<String>,
) -> Result<Json<Value>, ApiError> {
    actor.require_edit()?;
    check_name(&file)?;
    let (flows, names) = flows_of(&api, &file, false).await?;
    let mut results = Vec::new();
    for name in &names {
        let Some(flow) = flows.get(name) else { continue };
        for test in &flow.tests {
            let failures = transcript::run_one(&flows, name, test);
            let first = failures.first();
            results.push(json!({
                "flow": name, "name": test.name, "passed": failures.is_empty(),
                "step": first.map(|f| f.step), "diff": first.map(|f| f.diff.clone()),
            }));
        }
    }
    let failed = results.iter().filter(|r| r["passed"] == false).count();
    Ok(Json(
        json!({"results": results, "passed": results.len() - failed, "failed": failed}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewRequest {
    set: String,
    start_date: NaiveDate,
    #[serde(default)]
    source: Option<String>,
}

async fn preview(
    State(api): State<Api>,
    _actor: Actor,
    Path(file): Path<String>,
    Json(req): Json<PreviewRequest>,
) -> Result<Json<Value>, ApiError> {
    check_name(&file)?;
    let published = req.source.as_deref() == Some("published");
    let (flows, _) = flows_of(&api, &file, published).await?;
    let set = flows
        .message_set(&req.set)
        .ok_or_else(|| ApiError::bad_request(format!("there is no message set `{}` in `{file}`", req.set)))?;
    let languages = flows
        .set_file(&req.set)
        .map(|f| f.languages.clone())
        .unwrap_or_default();
    let base = languages.first().cloned().unwrap_or_else(|| "eng".into());
    let today = Utc::now().date_naive();
    let messages: Vec<Value> = (0..set.messages.len())
        .map(|i| {
            let day = schedule::day_of(set, i, Some(req.start_date));
            let due = schedule::due(set, i, Some(req.start_date));
            let texts: BTreeMap<&str, &str> = languages
                .iter()
                .map(|l| (l.as_str(), set.messages[i].text.get(l, &base)))
                .collect();
            json!({
                "index": i, "offset": set.messages[i].offset, "date": day, "due": due,
                "passed": day.is_some_and(|d| d < today), "texts": texts,
            })
        })
        .collect();
    Ok(Json(json!({
        "set": req.set, "anchor": set.anchor, "start_date": req.start_date,
        "window": {"days": set.window.days, "from": set.window.from, "until": set.window.until},
        "time_zone": set.window.timezone, "messages": messages,
    })))
}

#[derive(Debug, Deserialize)]
struct StatsQuery {
    flow: String,
    #[serde(default = "week")]
    days: u32,
}

fn week() -> u32 {
    7
}

async fn stats(
    State(api): State<Api>,
    _actor: Actor,
    Path(file): Path<String>,
    Query(q): Query<StatsQuery>,
) -> Result<Json<Value>, ApiError> {
    check_name(&file)?;
    if !matches!(q.days, 1 | 7 | 30) {
        return Err(ApiError::bad_request("`days` is 1, 7 or 30"));
    }
    let now = Utc::now();
    let since = now - chrono::Duration::days(i64::from(q.days));
    let rows = api.store.flow_stats(&q.flow, since.date_naive()).await?;
    let (sessions, avg_slices) = api.store.flow_session_summary(&q.flow, since).await?;
    let live = api.catalog.current();
    let ends_at_end = |node: &str| {
        live.flows
            .get(&q.flow)
            .and_then(|f| f.nodes.get(node))
            .is_some_and(|n| n.end.is_some())
    };
    let mut edges = Vec::new();
    let mut ends = Vec::new();
    let mut started = Vec::new();
    let (mut runs, mut completed) = (0i64, 0i64);
    for r in &rows {
        match (r.from.is_empty(), r.to.is_empty()) {
            (true, false) => {
                runs += r.count;
                started.push(json!({"node": r.to, "count": r.count}));
            }
            (false, true) => {
                let end = ends_at_end(&r.from);
                if end {
                    completed += r.count;
                }
                ends.push(json!({"node": r.from, "count": r.count, "completed": end}));
            }
            (false, false) => edges.push(json!({"from": r.from, "to": r.to, "count": r.count})),
            (true, true) => {}
        }
    }
    let rate = if runs > 0 {
        completed as f64 / runs as f64
    } else {
        0.0
    };
    Ok(Json(json!({
        "file": file, "flow": q.flow, "days": q.days, "runs": runs, "sessions": sessions,
        "completed": completed, "completion_rate": rate, "avg_slices": avg_slices,
        "edges": edges, "ends": ends, "started": started,
    })))
}
