//! `/api/v1/contacts`: the people behind MSISDNs, with their fields, groups, language and
//! opt-out. Sends to an opted-out contact are refused (`422 opted_out`).
//!
//! MSISDNs are kept in E.164 form with `+` (`27820000001` and `+27 82 000 0001` are the same
//! contact). Writes are optimistic: a `PUT` may carry the `version` it read, and a `PATCH`
//! retries on a concurrent write, so two writers never silently overwrite each other.

use std::collections::{BTreeMap, BTreeSet};

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use seedgate_runtime::store::{Contact, ContactQuery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::routes::{json_body, limit, query};
use crate::{Api, ApiError, ErrorCode};
use seedgate_proto::msisdn::is_msisdn;

/// Tries of a `PATCH` against concurrent writers.
const PATCH_TRIES: usize = 5;
const MAX_FIELDS: usize = 100;

pub use seedgate_proto::msisdn::normalise;

fn msisdn_param(raw: &str) -> Result<String, ApiError> {
    let m = normalise(raw);
    if !is_msisdn(&m) {
        return Err(ApiError::bad_request(format!(
            "`{raw}` is not an MSISDN (`+` and 5-15 digits)"
        )));
    }
    Ok(m)
}

/// A contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactView {
    pub msisdn: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ISO 639-3 (`eng`, `zul`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    pub groups: BTreeSet<String>,
    pub opted_out: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opted_out_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Pass back in a `PUT` to refuse to overwrite a newer write.
    pub version: i64,
    /// Message-set subscriptions (one contact at a time; not in lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriptions: Option<Vec<SubscriptionView>>,
}

/// A subscription to a message set.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub message_set: String,
    /// `active`, `done` or `cancelled`.
    pub state: String,
    /// The message of the set sent next (from 0).
    pub next_index: u32,
    pub next_due: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

fn view(c: Contact) -> ContactView {
    ContactView {
        msisdn: c.msisdn,
        name: c.name,
        language: c.language,
        fields: c.fields,
        groups: c.groups,
        opted_out: c.opted_out_at.is_some(),
        opted_out_at: c.opted_out_at,
        created_at: c.created_at,
        updated_at: c.updated_at,
        version: c.version,
        subscriptions: None,
    }
}

/// A page of contacts, by MSISDN.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactPage {
    pub items: Vec<ContactView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A whole contact (`PUT`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub groups: BTreeSet<String>,
    #[serde(default)]
    pub opted_out: bool,
    /// The version read: refuse (`409`) if the contact changed since.
    #[serde(default)]
    pub version: Option<i64>,
}

/// Changes to a contact (`PATCH`); what is left out stays.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContactPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
    /// Fields to set; a `null` value removes the field.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub fields: BTreeMap<String, serde_json::Value>,
    #[serde(default)]
    pub add_groups: BTreeSet<String>,
    #[serde(default)]
    pub remove_groups: BTreeSet<String>,
    /// `true` opts the contact out (nothing is sent to them), `false` back in.
    #[serde(default)]
    pub opted_out: Option<bool>,
}

fn check_language(l: &Option<String>) -> Result<(), ApiError> {
    match l {
        Some(l) if l.len() != 3 || !l.bytes().all(|b| b.is_ascii_lowercase()) => {
            Err(ApiError::bad_request(format!(
                "`language` is an ISO 639-3 code (three lower-case letters, e.g. `eng`, `zul`), not `{l}`"
            )))
        }
        _ => Ok(()),
    }
}

fn check_names<'a>(what: &str, names: impl IntoIterator<Item = &'a String>) -> Result<(), ApiError> {
    for n in names {
        let ok = !n.is_empty()
            && n.len() <= 64
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !ok {
            return Err(ApiError::bad_request(format!(
                "{what} `{n}`: use 1-64 ASCII letters, digits, `_` and `-`"
            )));
        }
    }
    Ok(())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ContactParams {
    group: Option<String>,
    opted_out: Option<bool>,
    cursor: Option<String>,
    limit: Option<u32>,
}

/// Contacts by MSISDN, optionally in a group or by opt-out.
#[utoipa::path(get, path = "/api/v1/contacts",
    params(("group" = Option<String>, Query), ("opted_out" = Option<bool>, Query),
           ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 500, description = "at most 500; 50 by default")),
    responses((status = 200, body = ContactPage), (status = 400)), security(("bearer" = [])))]
pub async fn list(
    State(api): State<Api>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Result<Json<ContactPage>, ApiError> {
    caller.require("read")?;
    let p: ContactParams = query(raw)?;
    let limit = limit(p.limit)?;
    let items = api
        .store
        .contacts(&ContactQuery {
            group: p.group,
            opted_out: p.opted_out,
            after: p.cursor,
            limit,
        })
        .await?;
    let next_cursor = crate::routes::next_cursor(&items, limit, |c| c.msisdn.clone());
    Ok(Json(ContactPage {
        items: items.into_iter().map(view).collect(),
        next_cursor,
    }))
}

/// One contact.
#[utoipa::path(get, path = "/api/v1/contacts/{msisdn}", params(("msisdn" = String, Path)),
    responses((status = 200, body = ContactView), (status = 404)), security(("bearer" = [])))]
pub async fn get(
    State(api): State<Api>,
    caller: Caller,
    Path(msisdn): Path<String>,
) -> Result<Json<ContactView>, ApiError> {
    caller.require("read")?;
    let m = msisdn_param(&msisdn)?;
    let c = api
        .store
        .contact(&m)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no contact {m}")))?;
    let subs = api.store.subscriptions_of(&m).await?;
    let mut v = view(c);
    v.subscriptions = Some(
        subs.into_iter()
            .map(|s| SubscriptionView {
                message_set: s.set,
                state: s.state,
                next_index: s.next_index,
                next_due: s.next_due,
                created_at: s.created_at,
            })
            .collect(),
    );
    Ok(Json(v))
}

fn conflict(m: &str) -> ApiError {
    ApiError::new(
        ErrorCode::VersionConflict,
        format!("contact {m} changed since it was read; read it again"),
    )
}

/// Create or replace a contact (send).
#[utoipa::path(put, path = "/api/v1/contacts/{msisdn}", params(("msisdn" = String, Path)), request_body = ContactBody,
    responses((status = 200, body = ContactView), (status = 201, body = ContactView), (status = 400), (status = 409)),
    security(("bearer" = [])))]
pub async fn put(
    State(api): State<Api>,
    caller: Caller,
    Path(msisdn): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    caller.require("send")?;
    let m = msisdn_param(&msisdn)?;
    let b: ContactBody = json_body(&headers, &body)?;
    check_language(&b.language)?;
    check_names("group", &b.groups)?;
    check_names("field", b.fields.keys())?;
    if b.fields.len() > MAX_FIELDS {
        return Err(ApiError::bad_request(format!("at most {MAX_FIELDS} fields")));
    }
    let now = Utc::now();
    let old = api.store.contact(&m).await?;
    if let (Some(v), Some(o)) = (b.version, &old) {
        if v != o.version {
            return Err(conflict(&m));
        }
    }
    let created = old.is_none();
    let mut c = old.unwrap_or_else(|| Contact::new(m.clone(), now));
    c.opted_out_at = match (b.opted_out, c.opted_out_at) {
        (true, Some(at)) => Some(at),
        (true, None) => Some(now),
        (false, _) => None,
    };
    c.name = b.name;
    c.language = b.language;
    c.fields = b.fields;
    c.groups = b.groups;
    c.updated_at = now;
    if !api.store.contact_put(&c).await? {
        return Err(conflict(&m));
    }
    c.version += 1;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(c))).into_response())
}

/// Change some of a contact's data, or opt it out or in (send). Creates the contact if new.
#[utoipa::path(patch, path = "/api/v1/contacts/{msisdn}", params(("msisdn" = String, Path)), request_body = ContactPatch,
    responses((status = 200, body = ContactView), (status = 400), (status = 409)), security(("bearer" = [])))]
pub async fn patch(
    State(api): State<Api>,
    caller: Caller,
    Path(msisdn): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ContactView>, ApiError> {
    caller.require("send")?;
    let m = msisdn_param(&msisdn)?;
    let p: ContactPatch = json_body(&headers, &body)?;
    check_language(&p.language)?;
    check_names("group", p.add_groups.iter().chain(&p.remove_groups))?;
    check_names("field", p.fields.keys())?;
    for _ in 0..PATCH_TRIES {
        let now = Utc::now();
        let mut c = api
            .store
            .contact(&m)
            .await?
            .unwrap_or_else(|| Contact::new(m.clone(), now));
        if p.name.is_some() {
            c.name.clone_from(&p.name);
        }
        if p.language.is_some() {
            c.language.clone_from(&p.language);
        }
        for (k, v) in &p.fields {
            if v.is_null() {
                c.fields.remove(k);
            } else {
                c.fields.insert(k.clone(), v.clone());
            }
        }
        if c.fields.len() > MAX_FIELDS {
            return Err(ApiError::bad_request(format!("at most {MAX_FIELDS} fields")));
        }
        c.groups.extend(p.add_groups.iter().cloned());
        c.groups.retain(|g| !p.remove_groups.contains(g));
        match (p.opted_out, c.opted_out_at) {
            (Some(true), None) => c.opted_out_at = Some(now),
            (Some(false), _) => c.opted_out_at = None,
            _ => {}
        }
        c.updated_at = now;
        if api.store.contact_put(&c).await? {
            c.version += 1;
            return Ok(Json(view(c)));
        }
    }
    Err(conflict(&m))
}

/// Delete a contact and everything kept about them as a contact (admin). Their messages stay
/// until their channel's retention removes them.
#[utoipa::path(delete, path = "/api/v1/contacts/{msisdn}", params(("msisdn" = String, Path)),
    responses((status = 204), (status = 404)), security(("bearer" = [])))]
pub async fn delete(
    State(api): State<Api>,
    caller: Caller,
    Path(msisdn): Path<String>,
) -> Result<Response, ApiError> {
    caller.require("admin")?;
    let m = msisdn_param(&msisdn)?;
    if api.store.contact_delete(&m).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::not_found(format!("no contact {m}")))
    }
}
