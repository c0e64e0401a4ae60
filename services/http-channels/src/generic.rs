//! `generic-ussd`: any aggregator whose requests and replies `[channels.<name>.mapping]`
//! describes: which request fields hold the session id, MSISDN, service code and input; how a
//! new session and a session end are recognised; and whether the reply is JSON (text field,
//! continue flag, echoed fields) or text with prefixes.
//!
//! ```toml
//! [channels.partner.mapping]
//! format = "json"            # or "form"
//! session_id = "session.id"  # dotted paths into JSON; leave out to key by MSISDN
//! msisdn = "msisdn"
//! service_code = "code"
//! text = "input"
//! new_field = "type"
//! new_value = "start"
//! end_field = "type"
//! end_value = "end"
//! [channels.partner.mapping.reply]
//! format = "json"
//! text_field = "message"
//! continue_field = "continue"
//! echo = ["session.id"]
//! ```

use axum::response::Response;
use seedgate_proto::{Message, SessionEndReason, SessionEvent};
use seedgate_runtime::config::{ChannelConfig, GenericMapping, ReplyFormat, RequestFormat, TextMode};
use serde_json::Value;

use crate::{
    closing, json_body, json_reply, plain, ussd_inbound, Aggregator, Malformed, Parsed, Request, Screen,
    NO_SESSION_ID,
};

pub(crate) struct Generic;

/// The value at a dotted `path` (`a.b.c`) of a JSON object.
fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(root, |v, part| v.get(part))
}

/// A field's value as text: strings as they are, numbers and booleans written out.
fn as_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn field(root: &Value, path: &str) -> Result<String, Malformed> {
    let v = lookup(root, path).ok_or_else(|| format!("missing field `{path}`"))?;
    as_text(v).ok_or_else(|| malformed!("field `{path}` is not a string, number or boolean"))
}

fn required_field(root: &Value, path: &str) -> Result<String, Malformed> {
    let v = field(root, path)?;
    if v.trim().is_empty() {
        Err(malformed!("field `{path}` is empty"))
    } else {
        Ok(v)
    }
}

/// Whether the field at `path` equals `expected` (compared as text for form bodies).
fn matches(root: &Value, path: &str, expected: &Value) -> bool {
    match lookup(root, path) {
        Some(v) if v == expected => true,
        Some(v) => as_text(v).is_some() && as_text(v) == as_text(expected),
        None => false,
    }
}

fn body(map: &GenericMapping, req: &Request<'_>) -> Result<Value, Malformed> {
    match map.format {
        RequestFormat::Json => json_body(req.headers, req.body),
        RequestFormat::Form => {
            crate::expect_form(req.headers)?;
            let pairs: Vec<(String, String)> =
                serde_urlencoded::from_bytes(req.body).map_err(|e| format!("bad form: {e}"))?;
            Ok(Value::Object(
                pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect(),
            ))
        }
    }
}

impl Aggregator for Generic {
    fn name(&self) -> &'static str {
        "generic"
    }

    fn parse(&self, req: &Request<'_>) -> Result<Parsed, Malformed> {
        let Some(map) = req.cfg.mapping() else {
            return Err("this channel has no [mapping]".into());
        };
        if !req.path.is_empty() {
            return Err(malformed!("unknown path `{}`", req.path));
        }
        let root = body(map, req)?;
        let msisdn = required_field(&root, &map.msisdn)?;
        crate::msisdn(&map.msisdn, &msisdn)?;
        let session = match &map.session_id {
            Some(path) => required_field(&root, path)?,
            None => NO_SESSION_ID.to_string(),
        };
        let service_code = match &map.service_code {
            Some(path) => field(&root, path).unwrap_or_default(),
            None => String::new(),
        };
        let text = match lookup(&root, &map.text) {
            None | Some(Value::Null) => String::new(),
            Some(v) => as_text(v).ok_or_else(|| format!("field `{}` is not text", map.text))?,
        };
        let ended = match (&map.end_field, &map.end_value) {
            (Some(f), Some(v)) => matches(&root, f, v),
            _ => false,
        };
        let new = match (&map.new_field, &map.new_value) {
            (Some(f), Some(v)) => matches(&root, f, v),
            _ => text.is_empty(),
        };
        let content = match map.text_mode {
            TextMode::Latest => text.as_str(),
            TextMode::Cumulative => text.rsplit('*').next().unwrap_or_default(),
        };
        let event = if ended {
            SessionEvent::Close
        } else if new {
            SessionEvent::New
        } else {
            SessionEvent::Resume
        };
        let content = if event == SessionEvent::Resume {
            content
        } else {
            ""
        };
        let mut msg = ussd_inbound(req.channel, &msisdn, &service_code, &session, event, content);
        if !text.is_empty() && event != SessionEvent::Resume {
            msg.metadata.insert("dialled_text".into(), text.clone().into());
        }
        let echo: serde_json::Map<String, Value> = map
            .reply
            .echo
            .iter()
            .filter_map(|path| lookup(&root, path).map(|v| (path.clone(), v.clone())))
            .collect();
        if !echo.is_empty() {
            msg.metadata.insert("echo".into(), Value::Object(echo));
        }
        if ended {
            Ok(Parsed::Ended(closing(&msg, SessionEndReason::UserAbort)))
        } else {
            Ok(Parsed::Hop(msg))
        }
    }

    fn render(&self, cfg: &ChannelConfig, screen: &Screen, msg: &Message) -> Response {
        let Some(reply) = cfg.mapping().map(|m| &m.reply) else {
            return plain(screen.text.clone());
        };
        match reply.format {
            ReplyFormat::Text => {
                let prefix = if screen.close {
                    &reply.end_prefix
                } else {
                    &reply.continue_prefix
                };
                plain(format!("{prefix}{}", screen.text))
            }
            ReplyFormat::Json => {
                let mut out = serde_json::Map::new();
                if let Some(Value::Object(echo)) = msg.metadata.get("echo") {
                    for (path, v) in echo {
                        set(&mut out, path, v.clone());
                    }
                }
                if let Some(f) = &reply.text_field {
                    set(&mut out, f, Value::String(screen.text.clone()));
                }
                if let Some(f) = &reply.continue_field {
                    let v = if screen.close {
                        reply.end_value.clone()
                    } else {
                        reply.continue_value.clone()
                    };
                    set(&mut out, f, v);
                }
                json_reply(Value::Object(out))
            }
        }
    }
}

/// Sets the dotted `path` in `obj`, creating the objects on the way.
fn set(obj: &mut serde_json::Map<String, Value>, path: &str, value: Value) {
    match path.split_once('.') {
        None => {
            obj.insert(path.to_string(), value);
        }
        Some((head, rest)) => {
            let entry = obj
                .entry(head.to_string())
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(serde_json::Map::new());
            }
            if let Value::Object(inner) = entry {
                set(inner, rest, value);
            }
        }
    }
}
