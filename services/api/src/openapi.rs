//! The OpenAPI document, generated from the handlers and types in [`crate::routes`].

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{channels, contacts, routes};

#[derive(OpenApi)]
#[openapi(
    info(title = "seedgate API", description = "Send and follow messages; USSD sessions and their billing; channels with their live status; contacts; tokens and webhooks."),
    paths(routes::send, routes::get_message, routes::list_messages, routes::list_sessions, routes::get_session,
          channels::list, channels::get, channels::create, channels::put, channels::delete, channels::restart,
          channels::logs, contacts::list, contacts::get, contacts::put, contacts::patch, contacts::delete,
          routes::create_token, routes::dead_webhooks, routes::replay_webhook,
          crate::lifecycle::dead_messages, crate::lifecycle::replay_message),
    components(schemas(routes::SendRequest, routes::MessageView, routes::EventView, routes::MessagePage,
                       routes::SessionView, routes::SessionPage, channels::ChannelView, channels::WebhooksView,
                       channels::ChannelLog, channels::LogLineView, contacts::ContactView, contacts::SubscriptionView, contacts::ContactPage,
                       contacts::ContactBody, contacts::ContactPatch,
                       routes::TokenRequest, routes::TokenCreated, routes::DeadWebhook,
                       crate::lifecycle::DeadMessage)),
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

/// The document as JSON.
pub fn document() -> serde_json::Value {
    serde_json::to_value(Doc::openapi()).unwrap_or_default()
}
