//! Reading a channel definition (a `[channels.<name>]` table, or the API's JSON) by its type.
//!
//! serde's own `#[serde(tag = "type")]` buffers a variant's keys before reading them, which
//! loses the key path of an error (`channels.x.smpp.system_id` would be reported as
//! `channels.x`), and `flatten` cannot refuse unknown keys; so the definition is split here:
//! `type` first, then the keys only that type takes (into its [`ChannelKind`] arm), then the
//! common ones, each part read with its path. A key of another type is refused naming it.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use super::{
    AggregatorOptions, ChannelConfig, ChannelKind, ChannelType, GenericUssdOptions, SimulatedCarrierOptions,
    SmppEsmeOptions,
};
use crate::config::{deserialize, invalid, ConfigError};

type Map = serde_json::Map<String, serde_json::Value>;

impl ChannelConfig {
    /// Reads the definition of the channel called `name`: the keys of a `[channels.<name>]`
    /// section, as JSON. Errors name the key (`channels.<name>.smpp.address`); checks beyond
    /// types are [`ChannelConfig::validate`]'s.
    pub fn parse(name: &str, definition: &serde_json::Value) -> Result<Self, ConfigError> {
        let at = format!("channels.{name}");
        let mut map: Map = deserialize(definition.clone(), &at)?;
        let Some(ty) = map.remove("type") else {
            return Err(invalid(at, "missing field `type`"));
        };
        let ty: ChannelType = deserialize(ty, &format!("{at}.type"))?;
        let common = keys_of::<ChannelConfig>();
        let (own, rest): (Map, Map) = map
            .into_iter()
            .partition(|(k, _)| own_keys(ty).contains(&k.as_str()));
        if let Some(k) = rest.keys().find(|k| !common.contains(&k.as_str())) {
            return Err(unknown_key(&at, ty, k));
        }
        let mut config: ChannelConfig = deserialize(serde_json::Value::Object(rest), &at)?;
        config.kind = read(ty, own, &at)?;
        Ok(config)
    }
}

/// The keys only channels of type `ty` take.
fn own_keys(ty: ChannelType) -> &'static [&'static str] {
    match ty {
        ChannelType::AfricasTalkingUssd
        | ChannelType::InfobipUssd
        | ChannelType::HubtelUssd
        | ChannelType::NaloUssd
        | ChannelType::ArkeselUssd => keys_of::<AggregatorOptions>(),
        ChannelType::GenericUssd => keys_of::<GenericUssdOptions>(),
        ChannelType::SimulatedCarrier => keys_of::<SimulatedCarrierOptions>(),
        ChannelType::SmppEsme => keys_of::<SmppEsmeOptions>(),
        ChannelType::SmppServerUssd => &[],
    }
}

/// Reads the keys only channels of type `ty` take (`own`) into their [`ChannelKind`] arm.
fn read(ty: ChannelType, own: Map, at: &str) -> Result<ChannelKind, ConfigError> {
    let needs = match ty {
        ChannelType::SmppEsme => Some(("smpp", "an smpp-esme channel needs its [smpp] section")),
        ChannelType::GenericUssd => Some(("mapping", "a generic-ussd channel needs its [mapping] section")),
        _ => None,
    };
    if let Some((section, reason)) = needs.filter(|(section, _)| !own.contains_key(*section)) {
        return Err(invalid(format!("{at}.{section}"), reason));
    }
    let own = serde_json::Value::Object(own);
    let kind = match ty {
        ChannelType::AfricasTalkingUssd => ChannelKind::AfricasTalkingUssd(deserialize(own, at)?),
        ChannelType::InfobipUssd => ChannelKind::InfobipUssd(deserialize(own, at)?),
        ChannelType::HubtelUssd => ChannelKind::HubtelUssd(deserialize(own, at)?),
        ChannelType::NaloUssd => ChannelKind::NaloUssd(deserialize(own, at)?),
        ChannelType::ArkeselUssd => ChannelKind::ArkeselUssd(deserialize(own, at)?),
        ChannelType::GenericUssd => ChannelKind::GenericUssd(deserialize(own, at)?),
        ChannelType::SimulatedCarrier => ChannelKind::SimulatedCarrier(deserialize(own, at)?),
        ChannelType::SmppEsme => ChannelKind::SmppEsme(deserialize(own, at)?),
        ChannelType::SmppServerUssd => ChannelKind::SmppServerUssd,
    };
    Ok(kind)
}

/// `key` is not one of type `ty`'s: name the types that take it, or the keys `ty` takes.
fn unknown_key(at: &str, ty: ChannelType, key: &str) -> ConfigError {
    let takers: Vec<String> = ChannelType::ALL
        .into_iter()
        .filter(|t| own_keys(*t).contains(&key))
        .map(type_name)
        .collect();
    if !takers.is_empty() {
        return invalid(
            format!("{at}.{key}"),
            format!("only {} channels take `{key}`", takers.join(", ")),
        );
    }
    let expected: Vec<String> = ["type"]
        .iter()
        .chain(keys_of::<ChannelConfig>())
        .chain(own_keys(ty))
        .map(|k| format!("`{k}`"))
        .collect();
    invalid(
        at,
        format!(
            "unknown field `{key}` for a {} channel, expected one of {}",
            type_name(ty),
            expected.join(", ")
        ),
    )
}

/// `type = "…"` of `ty`.
fn type_name(ty: ChannelType) -> String {
    serde_json::to_value(ty)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The keys a section struct takes: the field names its derived `Deserialize` hands to
/// `deserialize_struct` (skipped fields are not among them).
fn keys_of<T: for<'de> Deserialize<'de>>() -> &'static [&'static str] {
    struct Probe<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Probe<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("only the field names were wanted"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Probe(&mut fields));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_reads_into_its_own_arm_and_no_key_is_shared() {
        let minimal = |ty: ChannelType| -> serde_json::Value {
            match ty {
                ChannelType::GenericUssd => serde_json::json!({"type": ty, "mapping": {
                    "format": "form", "msisdn": "m", "text": "t", "reply": {"format": "text"}}}),
                ChannelType::SmppEsme => {
                    serde_json::json!({"type": ty, "smpp": {"address": "h:1", "system_id": "s"}})
                }
                _ => serde_json::json!({"type": ty}),
            }
        };
        for ty in ChannelType::ALL {
            let c = ChannelConfig::parse("x", &minimal(ty)).unwrap();
            assert_eq!(c.channel_type(), ty);
            for k in own_keys(ty) {
                assert!(
                    !keys_of::<ChannelConfig>().contains(k),
                    "{k} is common and {ty:?}'s"
                );
            }
        }
        assert!(keys_of::<ChannelConfig>().contains(&"hop_deadline_ms"));
        assert!(!keys_of::<ChannelConfig>().contains(&"kind"));
        assert_eq!(own_keys(ChannelType::SmppEsme), ["smpp"]);
    }

    #[test]
    fn a_key_of_another_type_is_refused_naming_it() {
        let cases = [
            (
                serde_json::json!({"type": "africastalking-ussd", "flow": "f", "smpp": {}}),
                "channels.x.smpp",
                "only smpp-esme",
            ),
            (
                serde_json::json!({"type": "smpp-esme", "session_key": "msisdn"}),
                "channels.x.session_key",
                "only africastalking-ussd",
            ),
            (
                serde_json::json!({"type": "hubtel-ussd", "sim_failure_rate": 0.5}),
                "channels.x.sim_failure_rate",
                "only simulated-carrier",
            ),
            (
                serde_json::json!({"type": "nalo-ussd", "mapping": {}}),
                "channels.x.mapping",
                "only generic-ussd",
            ),
            (
                serde_json::json!({"type": "simulated-carrier", "colour": "red"}),
                "channels.x",
                "unknown field `colour`",
            ),
        ];
        for (definition, key, reason) in cases {
            let e = ChannelConfig::parse("x", &definition).unwrap_err().to_string();
            assert!(
                e.contains(&format!("`{key}`")) && e.contains(reason),
                "{definition}: {e}"
            );
        }
    }
}
