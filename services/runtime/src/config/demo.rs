//! The embedded deployment's demo data: the channels a config without `[channels]` gets, and
//! the SMPP account a config without `[[smpp_server.accounts]]` gets.

use std::collections::BTreeMap;

use super::{ChannelConfig, SmppAccount};

/// Argon2id PHC string of the demo password `demo`.
pub const DEMO_PASSWORD_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$0do57pWTnlDyIWDVTk7NEQ$7TtWw/OPUeptuWNXynd/59gPC3ykKjdHf6Ny046Hd80";

/// The embedded deployment's channels: Africa's Talking USSD wired to the demo menu and to the
/// registration flow, and the simulated carrier for SMS.
const CHANNELS: &str = r#"
[demo-at]
type = "africastalking-ussd"
flow = "demo"

[momconnect-at]
type = "africastalking-ussd"
flow = "registration"

[demo-sms]
type = "simulated-carrier"
"#;

/// The demo channels as TOML (environment overrides of their keys apply to this).
pub(super) fn channels_table() -> toml::Table {
    CHANNELS
        .parse()
        .expect("the built-in channel table is valid TOML")
}

pub(super) fn channels() -> BTreeMap<String, ChannelConfig> {
    let table: BTreeMap<String, serde_json::Value> = toml::Value::Table(channels_table())
        .try_into()
        .expect("the built-in channel table is a table of tables");
    table
        .into_iter()
        .map(|(name, definition)| {
            let channel = ChannelConfig::parse(&name, &definition).expect("the built-in channels are valid");
            (name, channel)
        })
        .collect()
}

/// The embedded demo account: system_id `demo`, password `demo`, loopback only, routed to the
/// simulated carrier.
pub(super) fn account() -> SmppAccount {
    SmppAccount {
        system_id: "demo".into(),
        password_hash: DEMO_PASSWORD_HASH.into(),
        allowed_ips: SmppAccount::loopback(),
        max_binds: SmppAccount::max_binds(),
        tps: SmppAccount::tps(),
        window: SmppAccount::window(),
        route: "demo-sms".into(),
        mo_channels: Vec::new(),
        ussd_channel: None,
        ussd_profile: None,
    }
}
