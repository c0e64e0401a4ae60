//! The OpenAPI document, generated from the handlers and types in [`crate::routes`].

use serde_json::{json, Value};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{audit, channels, contacts, routes, tokens, ErrorCode};

#[derive(OpenApi)]
#[openapi(
    info(title = "seedgate API", description = "Send and follow messages; USSD sessions and their billing; channels with their live status; contacts; tokens, webhooks and the audit trail."),
    paths(routes::send, routes::get_message, routes::list_messages, routes::list_sessions, routes::get_session,
          channels::list, channels::get, channels::create, channels::put, channels::delete, channels::restart,
          channels::logs, contacts::list, contacts::get, contacts::put, contacts::patch, contacts::delete,
          tokens::create_token, tokens::list_tokens, tokens::revoke_token, audit::list,
          routes::dead_webhooks, routes::replay_webhook,
          crate::lifecycle::dead_messages, crate::lifecycle::replay_message, crate::lifecycle::held_receipts),
    components(schemas(routes::SendRequest, routes::MessageView, routes::EventView, routes::MessagePage,
                       routes::SessionView, routes::SessionPage, channels::ChannelView, channels::WebhooksView,
                       channels::ChannelLog, channels::LogLineView, contacts::ContactView, contacts::SubscriptionView, contacts::ContactPage,
                       contacts::ContactBody, contacts::ContactPatch,
                       tokens::TokenRequest, tokens::TokenCreated, tokens::TokenView, audit::AuditView, audit::AuditPage,
                       routes::DeadWebhook,
                       crate::lifecycle::DeadMessage, crate::lifecycle::HeldReceiptView)),
    modifiers(&Bearer)
)]
struct Doc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// The document as JSON, with the answers every operation can give (see [`standard_errors`]).
pub fn document() -> Value {
    let mut doc = serde_json::to_value(Doc::openapi()).unwrap_or_default();
    standard_errors(&mut doc);
    doc
}

/// What the handlers' annotations leave out and the server answers all the same, added to
/// every operation: the `Error` body on each 4xx/5xx; 401, 403, 429 and 503 (the store away)
/// where a token is needed; 400, 413 and 415 where a body is read; 400 where the path or the
/// query is parsed, and 404 where the path names a thing.
fn standard_errors(doc: &mut Value) {
    doc["components"]["schemas"]["Error"] = json!({
        "description": "Every error: a code from a small fixed set, and a message for people.",
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "enum": ErrorCode::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>()},
                "message": {"type": "string"}
            }
        }}
    });
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for op in item.values_mut() {
            let mut codes = Vec::new();
            if op.get("security").is_some() {
                codes.extend(["401", "403", "429", "503"]);
            }
            if op.get("requestBody").is_some() {
                codes.extend(["400", "413", "415"]);
            }
            if path.contains('{') || op.get("parameters").is_some() {
                codes.push("400");
            }
            if path.contains('{') {
                codes.push("404");
            }
            let responses = &mut op["responses"];
            for code in codes {
                if responses.get(code).is_none() {
                    responses[code] = json!({"description": describe(code)});
                }
            }
            let Some(responses) = responses.as_object_mut() else {
                continue;
            };
            for (code, response) in responses.iter_mut() {
                if (code.starts_with('4') || code.starts_with('5')) && response.get("content").is_none() {
                    response["content"] =
                        json!({"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}});
                }
            }
        }
    }
}

fn describe(code: &str) -> &'static str {
    match code {
        "400" => "a parameter or the body is not what the operation takes",
        "401" => "no valid token",
        "403" => "the token lacks the scope",
        "404" => "no such thing",
        "413" => "the body is larger than the operation takes",
        "415" => "the body is not JSON",
        "429" => "too many requests for this token: retry after the Retry-After seconds",
        _ => "the store is not reachable: nothing was done, try again",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_answer_is_listed_with_the_error_body() {
        let doc = document();
        let send = &doc["paths"]["/api/v1/messages"]["post"]["responses"];
        for code in ["400", "401", "403", "413", "415", "429", "503"] {
            assert!(send[code].is_object(), "POST /api/v1/messages lists {code}");
        }
        let get = &doc["paths"]["/api/v1/messages/{id}"]["get"]["responses"];
        assert!(get["400"].is_object() && get["404"].is_object());
        let mut errors = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for (code, response) in op["responses"].as_object().unwrap() {
                    if code.starts_with('4') || code.starts_with('5') {
                        errors += 1;
                        assert_eq!(
                            response["content"]["application/json"]["schema"]["$ref"],
                            "#/components/schemas/Error",
                            "{method} {path} {code}"
                        );
                    }
                }
            }
        }
        assert!(errors > 50, "{errors}");
        let codes =
            &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"];
        assert!(codes.as_array().unwrap().contains(&"too_large".into()));
    }
}
