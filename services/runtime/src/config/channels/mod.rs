//! `[channels.<name>]`: a channel's type, the keys every channel takes, and the sections only
//! some types take (carried by [`ChannelKind`], so an `smpp-esme` channel has an `[smpp]`
//! section and nothing of an HTTP aggregator's).
//!
//! To add a channel type: a [`ChannelType`] arm (its `type = "…"` name), a [`ChannelKind`]
//! arm with the struct of its own keys, and one line each in `parse.rs` (`own_keys`, `read`);
//! the compiler finds the connectors' registries.

use serde::Deserialize;

use crate::config::{invalid, ConfigError};

mod esme;
mod generic;
mod parse;
mod webhooks;

pub use esme::{BindMode, Concat, EsmeConfig};
pub use generic::{GenericMapping, GenericReply, ReplyFormat, RequestFormat, TextMode};
pub use webhooks::WebhookConfig;

/// A channel's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
pub enum ChannelType {
    /// Africa's Talking USSD callbacks (`CON `/`END ` plain-text replies).
    #[serde(rename = "africastalking-ussd")]
    AfricasTalkingUssd,
    /// An in-process stand-in for a carrier: acks every message and reports delivery after
    /// `sim_dlr_delay_ms`, failing `sim_failure_rate` of them. For demos and tests.
    #[serde(rename = "simulated-carrier")]
    SimulatedCarrier,
    /// seedgate binds to a carrier's SMSC as an ESME (settings in `[channels.<name>.smpp]`).
    #[serde(rename = "smpp-esme")]
    SmppEsme,
    /// USSD dialogs from a gateway that binds to seedgate's SMPP server (an account's
    /// `ussd_channel`); replies go back as `deliver_sm` on the dialog's bind.
    #[serde(rename = "smpp-server-ussd")]
    SmppServerUssd,
    /// Infobip-style USSD: `POST …/session/{id}/start`, `PUT …/session/{id}/response` and
    /// `PUT …/session/{id}/end` under the channel's callback URL, JSON both ways.
    #[serde(rename = "infobip-ussd")]
    InfobipUssd,
    /// Hubtel USSD: JSON with `Type` Initiation / Response / Release / Timeout and `ClientState`.
    #[serde(rename = "hubtel-ussd")]
    HubtelUssd,
    /// Nalo Solutions USSD: JSON `USERID` / `MSISDN` / `USERDATA` / `MSGTYPE`. The protocol has
    /// no session id, so sessions are keyed by MSISDN and dialog.
    #[serde(rename = "nalo-ussd")]
    NaloUssd,
    /// Arkesel USSD: JSON `sessionID` / `userID` / `newSession` / `msisdn` / `userData`.
    #[serde(rename = "arkesel-ussd")]
    ArkeselUssd,
    /// Any other aggregator, described by `[channels.<name>.mapping]`.
    #[serde(rename = "generic-ussd")]
    GenericUssd,
}

impl ChannelType {
    /// Every type, in the order of the docs.
    pub const ALL: [Self; 9] = [
        Self::AfricasTalkingUssd,
        Self::InfobipUssd,
        Self::HubtelUssd,
        Self::NaloUssd,
        Self::ArkeselUssd,
        Self::GenericUssd,
        Self::SimulatedCarrier,
        Self::SmppEsme,
        Self::SmppServerUssd,
    ];

    /// Whether channels of this type carry USSD sessions (and so must name a flow).
    pub fn is_ussd(self) -> bool {
        !matches!(self, Self::SimulatedCarrier | Self::SmppEsme)
    }
}

/// A channel's type with the keys only that type takes.
// A handful of these live for the process (one per channel), never on a hot path: the generic
// mapping's JSON templates (an order-keeping map) may make its variant the largest.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelKind {
    AfricasTalkingUssd(AggregatorOptions),
    InfobipUssd(AggregatorOptions),
    HubtelUssd(AggregatorOptions),
    NaloUssd(AggregatorOptions),
    ArkeselUssd(AggregatorOptions),
    GenericUssd(GenericUssdOptions),
    SimulatedCarrier(SimulatedCarrierOptions),
    SmppEsme(SmppEsmeOptions),
    SmppServerUssd,
}

impl ChannelKind {
    pub fn channel_type(&self) -> ChannelType {
        match self {
            Self::AfricasTalkingUssd(_) => ChannelType::AfricasTalkingUssd,
            Self::InfobipUssd(_) => ChannelType::InfobipUssd,
            Self::HubtelUssd(_) => ChannelType::HubtelUssd,
            Self::NaloUssd(_) => ChannelType::NaloUssd,
            Self::ArkeselUssd(_) => ChannelType::ArkeselUssd,
            Self::GenericUssd(_) => ChannelType::GenericUssd,
            Self::SimulatedCarrier(_) => ChannelType::SimulatedCarrier,
            Self::SmppEsme(_) => ChannelType::SmppEsme,
            Self::SmppServerUssd => ChannelType::SmppServerUssd,
        }
    }
}

/// The keys of an HTTP USSD aggregator's channel (`africastalking-ussd`, `infobip-ussd`, …).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AggregatorOptions {
    /// How sessions are identified across hops (default: the gateway's id, or the MSISDN for
    /// gateways that send no id).
    pub session_key: Option<SessionKey>,
}

/// The keys of a `generic-ussd` channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenericUssdOptions {
    #[serde(default)]
    pub session_key: Option<SessionKey>,
    /// The request and reply mapping.
    pub mapping: GenericMapping,
}

/// The keys of a `simulated-carrier` channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SimulatedCarrierOptions {
    /// Delay before the delivery report.
    pub sim_dlr_delay_ms: u64,
    /// Share of messages reported failed (0.0–1.0).
    pub sim_failure_rate: f64,
}

impl Default for SimulatedCarrierOptions {
    fn default() -> Self {
        Self {
            sim_dlr_delay_ms: 500,
            sim_failure_rate: 0.0,
        }
    }
}

/// The keys of an `smpp-esme` channel.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmppEsmeOptions {
    /// The SMSC and the bind.
    pub smpp: EsmeConfig,
}

/// How the session engine identifies a session across its hops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionKey {
    /// The gateway's session id, the same on every hop (most gateways).
    Gateway,
    /// The MSISDN and the dialog it is in: for gateways whose ids change mid-session, or that
    /// send none. A "new" request starts a dialog; later ones join the MSISDN's open dialog.
    Msisdn,
}

/// One channel: its [`ChannelKind`] (`type` and that type's keys) and the keys every channel
/// takes. [`ChannelConfig::parse`] reads one naming the key of any error in full.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChannelConfig {
    /// `type = "…"` and the keys only that type takes.
    #[serde(flatten)]
    pub kind: ChannelKind,
    /// Name of the flow that answers this channel's sessions (USSD channels).
    pub flow: Option<String>,
    /// Every hop is answered within this deadline: with the flow's reply, or the fallback.
    pub hop_deadline_ms: u64,
    /// What the user sees when the reply does not come in time.
    pub fallback_text: String,
    /// This channel's session budget in seconds, if not `sessions.budget_secs`.
    pub budget_secs: Option<u64>,
    /// The longest USSD screen the channel shows; longer replies are paginated.
    pub max_screen_chars: usize,
    /// The option that shows the next page of a paginated screen.
    pub more_key: String,
    pub more_label: String,
    /// A user whose session broke off mid-flow and who dials again within this many seconds
    /// of their last answered screen is offered to continue where they were (0: never).
    pub resume_window_secs: u64,
    /// The offer shown on such a redial; option 1 continues, option 2 starts again.
    pub resume_prompt: String,
    /// Where inbound messages and events of this channel are posted, signed.
    pub webhooks: Option<WebhookConfig>,
    /// Messages, events and ended sessions of this channel older than this many days are
    /// deleted by the store service (messages still waiting to be sent are kept). Unset: kept.
    pub retention_days: Option<u32>,
    /// With `retention_days`: write what is purged to gzipped JSON-lines files under
    /// `store.archive_dir` first (a failed write purges nothing).
    pub retention_archive: bool,
}

/// A simulated carrier with every key at its default.
impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            kind: ChannelKind::SimulatedCarrier(SimulatedCarrierOptions::default()),
            flow: None,
            hop_deadline_ms: 4000,
            fallback_text: "Sorry, the service is busy right now. Please try again in a few minutes.".into(),
            budget_secs: None,
            max_screen_chars: 182,
            more_key: "99".into(),
            more_label: "More".into(),
            resume_window_secs: 300,
            resume_prompt: "Welcome back.\n1. Continue where you left off\n2. Start again".into(),
            webhooks: None,
            retention_days: None,
            retention_archive: false,
        }
    }
}

impl ChannelConfig {
    pub fn channel_type(&self) -> ChannelType {
        self.kind.channel_type()
    }

    /// The `[smpp]` section of an `smpp-esme` channel.
    pub fn smpp(&self) -> Option<&EsmeConfig> {
        match &self.kind {
            ChannelKind::SmppEsme(o) => Some(&o.smpp),
            _ => None,
        }
    }

    /// The keys of a `simulated-carrier` channel.
    pub fn sim(&self) -> Option<&SimulatedCarrierOptions> {
        match &self.kind {
            ChannelKind::SimulatedCarrier(o) => Some(o),
            _ => None,
        }
    }

    /// The `[mapping]` section of a `generic-ussd` channel.
    pub fn mapping(&self) -> Option<&GenericMapping> {
        match &self.kind {
            ChannelKind::GenericUssd(o) => Some(&o.mapping),
            _ => None,
        }
    }

    /// How this channel's sessions are identified across hops.
    pub fn session_key(&self) -> SessionKey {
        match &self.kind {
            ChannelKind::NaloUssd(o) => o.session_key.unwrap_or(SessionKey::Msisdn),
            ChannelKind::GenericUssd(o) => o.session_key.unwrap_or(match o.mapping.session_id {
                None => SessionKey::Msisdn,
                Some(_) => SessionKey::Gateway,
            }),
            ChannelKind::AfricasTalkingUssd(o)
            | ChannelKind::InfobipUssd(o)
            | ChannelKind::HubtelUssd(o)
            | ChannelKind::ArkeselUssd(o) => o.session_key.unwrap_or(SessionKey::Gateway),
            ChannelKind::SimulatedCarrier(_) | ChannelKind::SmppEsme(_) | ChannelKind::SmppServerUssd => {
                SessionKey::Gateway
            }
        }
    }

    /// Checks that go beyond types, for the channel called `name` (also for channels created
    /// through the API).
    pub fn validate(&self, name: &str) -> Result<(), ConfigError> {
        let at = format!("channels.{name}");
        let key = |field: &str| format!("{at}.{field}");
        if !seedgate_proto::is_valid_channel_name(name) {
            return Err(invalid(
                &at,
                "channel names use ASCII letters, digits, `-` and `_` (1-64 characters)",
            ));
        }
        match self.flow.as_deref() {
            None if self.channel_type().is_ussd() => {
                return Err(invalid(
                    key("flow"),
                    "a USSD channel must name the flow that answers it",
                ))
            }
            Some(f) if f.trim().is_empty() => return Err(invalid(key("flow"), "must name a flow")),
            _ => {}
        }
        match &self.kind {
            ChannelKind::SmppEsme(o) => o.smpp.validate(&key("smpp"), self.flow.is_some())?,
            ChannelKind::GenericUssd(o) => o.mapping.validate(&key("mapping"))?,
            ChannelKind::SimulatedCarrier(o) if !(0.0..=1.0).contains(&o.sim_failure_rate) => {
                return Err(invalid(key("sim_failure_rate"), "must be between 0.0 and 1.0"));
            }
            _ => {}
        }
        if self.budget_secs == Some(0) {
            return Err(invalid(key("budget_secs"), "must be at least 1"));
        }
        if self.retention_archive && self.retention_days.is_none() {
            return Err(invalid(
                key("retention_archive"),
                "archives what retention removes: set retention_days too",
            ));
        }
        if self.retention_days == Some(0) {
            return Err(invalid(
                key("retention_days"),
                "must be at least 1 (leave it out to keep everything)",
            ));
        }
        if let Some(w) = &self.webhooks {
            w.validate(&key("webhooks"))?;
        }
        if self.max_screen_chars < 40 + self.more_key.chars().count() + self.more_label.chars().count() {
            return Err(invalid(
                key("max_screen_chars"),
                "too small to show a page and its \"more\" option",
            ));
        }
        if self.hop_deadline_ms == 0 || self.hop_deadline_ms > 60_000 {
            return Err(invalid(key("hop_deadline_ms"), "must be between 1 and 60000"));
        }
        if self.fallback_text.trim().is_empty() {
            return Err(invalid(key("fallback_text"), "must not be empty: users read it"));
        }
        Ok(())
    }
}
