//! `/api/v1/channels`: list channels with their live status; create, replace, delete and
//! restart channels without restarting any process; read a channel's recent traffic.
//!
//! A channel made here is stored (the same keys as a `[channels.<name>]` section, as JSON) and
//! every process running connectors picks it up within a few seconds (this one at once).
//! Channels of the config file can be restarted here, not changed: the file is their truth.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use seedgate_runtime::channels::{parse_definition, Live, Origin};
use seedgate_runtime::config::ChannelType;
use seedgate_runtime::monitor::{self, Health, LogLine, Report};
use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::Source;
use crate::auth::Caller;
use crate::routes::json_body;
use crate::staff::Actor;
use crate::{Api, ApiError, ErrorCode};

/// A channel, its definition and its live status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelView {
    pub name: String,
    /// The channel type, as in the config (`africastalking-ussd`, `smpp-esme`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// `sms` or `ussd`.
    pub transport: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow: Option<String>,
    pub hop_deadline_ms: u64,
    /// The longest USSD screen the channel shows before paging with "more".
    pub max_screen_chars: usize,
    pub webhooks: WebhooksView,
    /// `config` (the config file) or `api` (made through this API).
    pub origin: String,
    /// Goes up with every change or restart made through the API.
    pub generation: i64,
    /// `ok`, `degraded`, `down`, or `starting` (made, changed or restarted moments ago: its
    /// connector has not reported yet).
    pub status: String,
    /// Why the channel has its status (bind counts, errors, fallback rates).
    pub reasons: Vec<String>,
    /// When the status last changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// For channels made through the API: the definition, secrets hidden.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub definition: Option<serde_json::Value>,
}

/// Which webhooks a channel has (the URLs and secret stay in the config).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhooksView {
    pub inbound: bool,
    pub events: bool,
    pub status: bool,
}

/// A channel's recent traffic, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelLog {
    pub channel: String,
    pub lines: Vec<LogLineView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LogLineView {
    pub at: DateTime<Utc>,
    /// `in` (from the carrier or aggregator) or `out` (to it).
    pub direction: String,
    /// The PDU or HTTP request in one line; phone numbers masked, message text left out.
    pub summary: String,
}

/// A channel's status: its connector's latest report; when none has come lately, `starting`
/// if the channel was made, changed or restarted within [`monitor::TTL`] (its connector is on
/// its way), `down` otherwise.
pub(crate) async fn report(api: &Api, name: &str, changed_at: DateTime<Utc>) -> Report {
    let silent = |why: String| Report {
        channel: name.to_string(),
        status: Health::Down,
        reasons: vec![why],
        since: Utc::now(),
        change_id: uuid::Uuid::nil(),
        log: Default::default(),
    };
    let Some(sessions) = &api.sessions else {
        return silent("no session store here to read channel status from".into());
    };
    let fresh = Utc::now() - changed_at < chrono::TimeDelta::from_std(monitor::TTL).unwrap_or_default();
    match monitor::read(sessions.as_ref(), name).await {
        Ok(Some(r)) => r,
        Ok(None) if fresh => Report {
            status: Health::Starting,
            ..silent(monitor::STARTING.into())
        },
        Ok(None) => silent(format!(
            "no connector has reported this channel in the last {} s (is the process that runs it up?)",
            monitor::TTL.as_secs()
        )),
        Err(e) => silent(format!("cannot read the status: {e}")),
    }
}

fn kind_name(kind: ChannelType) -> String {
    serde_json::to_value(kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Hides the secrets of a definition.
fn redact(mut def: serde_json::Value) -> serde_json::Value {
    for (section, key) in [("smpp", "password"), ("webhooks", "secret")] {
        if let Some(v) = def.get_mut(section).and_then(|s| s.get_mut(key)) {
            *v = "********".into();
        }
    }
    def
}

async fn view(api: &Api, live: &Live, definition: Option<serde_json::Value>) -> ChannelView {
    let c = &live.config;
    let r = report(api, &live.name, live.changed_at).await;
    let hooks = c.webhooks.as_ref();
    ChannelView {
        name: live.name.clone(),
        kind: kind_name(c.channel_type()),
        transport: if c.channel_type().is_ussd() { "ussd" } else { "sms" }.into(),
        flow: c.flow.clone(),
        hop_deadline_ms: c.hop_deadline_ms,
        max_screen_chars: c.max_screen_chars,
        webhooks: WebhooksView {
            inbound: hooks.is_some_and(|w| w.inbound.is_some()),
            events: hooks.is_some_and(|w| w.events.is_some()),
            status: hooks.is_some_and(|w| w.status.is_some()),
        },
        origin: live.origin.as_str().into(),
        generation: live.generation,
        status: r.status.as_str().into(),
        reasons: r.reasons,
        since: (!r.change_id.is_nil()).then_some(r.since),
        definition: definition.map(redact),
    }
}

/// The stored definition of an API channel.
async fn definition(api: &Api, live: &Live) -> Result<Option<serde_json::Value>, ApiError> {
    if live.origin != Origin::Api {
        return Ok(None);
    }
    Ok(api
        .store
        .channels_stored()
        .await?
        .into_iter()
        .find(|c| c.name == live.name)
        .and_then(|c| c.definition))
}

fn unknown(name: &str) -> ApiError {
    ApiError::not_found(format!("no channel named `{name}`"))
}

/// The channels with their live status: for any token with `read`, and any signed-in staff
/// user (the studio reads each channel's flow and screen limit).
#[utoipa::path(get, path = "/api/v1/channels", responses((status = 200, body = [ChannelView])), security(("bearer" = [])))]
pub async fn list(State(api): State<Api>, _actor: Actor) -> Result<Json<Vec<ChannelView>>, ApiError> {
    let set = api.registry.current();
    let mut out = Vec::new();
    for live in set.iter() {
        out.push(view(&api, live, None).await);
    }
    Ok(Json(out))
}

/// One channel, its status and (for channels made through the API) its definition.
#[utoipa::path(get, path = "/api/v1/channels/{name}", params(("name" = String, Path)),
    responses((status = 200, body = ChannelView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ChannelView>, ApiError> {
    caller.require("read")?;
    let set = api.registry.current();
    let live = set.get(&name).ok_or_else(|| unknown(&name))?;
    let def = definition(&api, live).await?;
    Ok(Json(view(&api, live, def).await))
}

/// Checks a definition for channel `name`; `400` names the key at fault.
/// Refuses a definition the config file would refuse: bad keys, a channel type that lives in
/// the file, a flow that does not run here (422 `unknown_flow`: every caller would get the
/// fallback screen).
fn check(api: &Api, name: &str, def: &serde_json::Value) -> Result<(), ApiError> {
    let config = parse_definition(name, def).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if config.channel_type() == ChannelType::SmppServerUssd {
        return Err(ApiError::new(ErrorCode::NotSupported,
            "an smpp-server-ussd channel belongs to an SMPP server account ([[smpp_server.accounts]]), which lives in the config file",
        ));
    }
    if let Some(flow) = &config.flow {
        let live = api.catalog.current();
        if !live.flows.has(flow) {
            let mut known: Vec<&str> = live.flows.names().collect();
            known.sort_unstable();
            return Err(ApiError::new(
                ErrorCode::UnknownFlow,
                format!(
                    "at `flow`: no flow named `{flow}` is published (flows: {}); publish it in the studio first",
                    if known.is_empty() { "none yet".to_string() } else { known.join(", ") }
                ),
            ));
        }
    }
    Ok(())
}

/// Declares the channel's queues (so nothing sent to it right after the answer is
/// unroutable), stores the definition, and brings the channel up in this process at once;
/// the others follow within seconds.
async fn store_definition(api: &Api, name: &str, def: &serde_json::Value) -> Result<Live, ApiError> {
    let config = parse_definition(name, def).map_err(|e| ApiError::bad_request(e.to_string()))?;
    seedgate_runtime::topology::declare_channel(api.bus.as_ref(), &api.config, name, &config)
        .await
        .map_err(|e| {
            ApiError::new(
                ErrorCode::BusUnavailable,
                format!("the channel's queues cannot be declared ({e}); nothing was stored, try again"),
            )
        })?;
    let stored = api.store.channel_put(name, def).await?;
    api.registry.refresh(api.store.as_ref()).await?;
    tracing::info!(
        channel = name,
        generation = stored.generation,
        "channel stored through the API"
    );
    Ok(Live {
        name: name.to_string(),
        config: std::sync::Arc::new(config),
        generation: stored.generation,
        origin: Origin::Api,
        changed_at: stored.updated_at,
    })
}

fn refuse_file_channel(api: &Api, name: &str) -> Result<(), ApiError> {
    if api.registry.in_file(name) {
        return Err(ApiError::new(
            ErrorCode::DefinedInConfig,
            format!("`{name}` is defined in the config file; change it there (it can be restarted here)"),
        ));
    }
    Ok(())
}

/// Create a channel (admin): `name` and the keys of a `[channels.<name>]` section.
#[utoipa::path(post, path = "/api/v1/channels", request_body(content = Object, description = "`name` plus the channel's keys, e.g. {\"name\": \"mtn-sms\", \"type\": \"smpp-esme\", \"smpp\": {…}}"),
    responses((status = 201, body = ChannelView), (status = 400), (status = 403), (status = 409), (status = 422)),
    security(("bearer" = [])))]
pub async fn create(
    State(api): State<Api>,
    actor: Actor,
    source: Source,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    let mut def: serde_json::Map<String, serde_json::Value> = json_body(&headers, &body)?;
    let name = match def.remove("name") {
        Some(serde_json::Value::String(n)) => n,
        Some(_) => return Err(ApiError::bad_request("`name` must be a string")),
        None => return Err(ApiError::bad_request("missing field `name`")),
    };
    if api.registry.current().get(&name).is_some() {
        return Err(ApiError::new(
            ErrorCode::ChannelExists,
            format!("a channel named `{name}` exists; PUT /api/v1/channels/{name} replaces it"),
        ));
    }
    let def = serde_json::Value::Object(def);
    check(&api, &name, &def)?;
    let live = store_definition(&api, &name, &def).await?;
    let detail = serde_json::json!({"definition": redact(def.clone())});
    crate::audit::record(&api, &actor.name, &source, "channel.create", &name, detail).await;
    Ok((StatusCode::CREATED, Json(view(&api, &live, Some(def)).await)).into_response())
}

/// Create or replace a channel made through the API (admin); its connectors restart with it.
#[utoipa::path(put, path = "/api/v1/channels/{name}", params(("name" = String, Path)),
    request_body(content = Object, description = "the keys of a `[channels.<name>]` section"),
    responses((status = 200, body = ChannelView), (status = 201, body = ChannelView), (status = 400), (status = 409)),
    security(("bearer" = [])))]
pub async fn put(
    State(api): State<Api>,
    actor: Actor,
    source: Source,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    refuse_file_channel(&api, &name)?;
    let def: serde_json::Value = json_body(&headers, &body)?;
    if def.get("name").is_some() {
        return Err(ApiError::bad_request(
            "`name` is in the path; the body holds the channel's keys",
        ));
    }
    check(&api, &name, &def)?;
    let existed = api.registry.current().get(&name).is_some();
    let live = store_definition(&api, &name, &def).await?;
    let action = if existed {
        "channel.update"
    } else {
        "channel.create"
    };
    let detail = serde_json::json!({"definition": redact(def.clone())});
    crate::audit::record(&api, &actor.name, &source, action, &name, detail).await;
    let status = if existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(view(&api, &live, Some(def)).await)).into_response())
}

/// Delete a channel made through the API (admin); its connectors stop. Messages already
/// stored stay.
#[utoipa::path(delete, path = "/api/v1/channels/{name}", params(("name" = String, Path)),
    responses((status = 204), (status = 404), (status = 409)), security(("bearer" = [])))]
pub async fn delete(
    State(api): State<Api>,
    actor: Actor,
    source: Source,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    refuse_file_channel(&api, &name)?;
    if !api.store.channel_delete(&name).await? {
        return Err(unknown(&name));
    }
    api.registry.refresh(api.store.as_ref()).await?;
    tracing::info!(channel = %name, "channel deleted through the API");
    crate::audit::record(
        &api,
        &actor.name,
        &source,
        "channel.delete",
        &name,
        serde_json::json!({}),
    )
    .await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Restart a channel's connectors (admin): binds are dropped and made again, consumers
/// restart; nothing queued is lost.
#[utoipa::path(post, path = "/api/v1/channels/{name}/restart", params(("name" = String, Path)),
    responses((status = 202, body = ChannelView), (status = 404)), security(("bearer" = [])))]
pub async fn restart(
    State(api): State<Api>,
    actor: Actor,
    source: Source,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    actor.require_admin()?;
    if api.registry.current().get(&name).is_none() {
        return Err(unknown(&name));
    }
    let stored = api.store.channel_restart(&name).await?;
    api.registry.refresh(api.store.as_ref()).await?;
    tracing::info!(channel = %name, generation = stored.generation, "channel restart requested through the API");
    let detail = serde_json::json!({"generation": stored.generation});
    crate::audit::record(&api, &actor.name, &source, "channel.restart", &name, detail).await;
    let set = api.registry.current();
    let live = set.get(&name).ok_or_else(|| unknown(&name))?;
    Ok((StatusCode::ACCEPTED, Json(view(&api, live, None).await)).into_response())
}

/// A channel's recent traffic (PDUs or HTTP requests), oldest first.
#[utoipa::path(get, path = "/api/v1/channels/{name}/logs", params(("name" = String, Path)),
    responses((status = 200, body = ChannelLog), (status = 404)), security(("bearer" = [])))]
pub async fn logs(
    State(api): State<Api>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ChannelLog>, ApiError> {
    caller.require("read")?;
    let changed_at = api
        .registry
        .current()
        .get(&name)
        .map(|l| l.changed_at)
        .ok_or_else(|| unknown(&name))?;
    let r = report(&api, &name, changed_at).await;
    Ok(Json(ChannelLog {
        channel: name,
        lines: r
            .log
            .into_iter()
            .map(
                |LogLine {
                     at,
                     direction,
                     summary,
                 }| LogLineView {
                    at,
                    direction,
                    summary,
                },
            )
            .collect(),
    }))
}
