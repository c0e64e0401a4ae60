//! Reading a channel definition (a `[channels.<name>]` table, or the API's JSON) by its type.
//!
//! [`ChannelKind`] is read from `type` and the keys only that type takes, with a key of
//! another type refused naming it; [`ChannelConfig`] flattens it beside the common keys.
//! serde's own `#[serde(tag = "type")]` would buffer a variant's keys before reading them,
//! losing the key path of an error (`channels.x.smpp.system_id` reported as `channels.x`),
//! so [`ChannelConfig::parse`] reads the kind's keys itself first, each with its path.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{
    AggregatorOptions, ChannelConfig, ChannelKind, ChannelType, GenericUssdOptions, SimulatedCarrierOptions,
    SmppEsmeOptions,
};
use crate::config::{deserialize, invalid, ConfigError};

type Map = serde_json::Map<String, serde_json::Value>;

/// `type` and the keys of every type's own section: what a [`ChannelKind`] reads.
const KIND_KEYS: &[&str] = &[
    "type",
    "session_key",
    "mapping",
    "sim_dlr_delay_ms",
    "sim_failure_rate",
    "smpp",
];

impl ChannelConfig {
    /// Reads the definition of the channel called `name`: the keys of a `[channels.<name>]`
    /// section, as JSON. Errors name the key (`channels.<name>.smpp.address`); checks beyond
    /// types are [`ChannelConfig::validate`]'s.
    pub fn parse(name: &str, definition: &serde_json::Value) -> Result<Self, ConfigError> {
        let at = format!("channels.{name}");
        let map: Map = deserialize(definition.clone(), &at)?;
        let own: Map = map
            .into_iter()
            .filter(|(k, _)| KIND_KEYS.contains(&k.as_str()))
            .collect();
        read(own, &at)?;
        // The kind reads as it just did; the common keys are read with their paths.
        deserialize(definition.clone(), &at)
    }
}

impl<'de> Deserialize<'de> for ChannelKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Entries;
        impl<'de> Visitor<'de> for Entries {
            type Value = Map;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a channel definition")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Map, A::Error> {
                let mut map = Map::new();
                while let Some((k, v)) = access.next_entry()? {
                    map.insert(k, v);
                }
                Ok(map)
            }
        }
        // As a struct: a flattening parent then hands over these keys only.
        let own = deserializer.deserialize_struct("ChannelKind", KIND_KEYS, Entries)?;
        read(own, "channel").map_err(de::Error::custom)
    }
}

/// Reads `type` and the keys only that type takes (`own`, a subset of [`KIND_KEYS`]) of the
/// channel at `at`.
fn read(mut own: Map, at: &str) -> Result<ChannelKind, ConfigError> {
    let Some(ty) = own.remove("type") else {
        return Err(invalid(at, "missing field `type`"));
    };
    let ty: ChannelType = deserialize(ty, &format!("{at}.type"))?;
    if let Some(key) = own.keys().find(|k| !own_keys(ty).contains(&k.as_str())) {
        let takers: Vec<String> = ChannelType::ALL
            .into_iter()
            .filter(|t| own_keys(*t).contains(&key.as_str()))
            .map(type_name)
            .collect();
        return Err(invalid(
            format!("{at}.{key}"),
            format!("only {} channels take `{key}`", takers.join(", ")),
        ));
    }
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

/// `type = "…"` of `ty`.
fn type_name(ty: ChannelType) -> String {
    serde_json::to_value(ty)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// The keys a section struct takes: the field names its derived `Deserialize` hands to
/// `deserialize_struct`.
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

    fn minimal(ty: ChannelType) -> serde_json::Value {
        match ty {
            ChannelType::GenericUssd => serde_json::json!({"type": ty, "flow": "f", "mapping": {
                "format": "form", "msisdn": "m", "text": "t", "reply": {"format": "text"}}}),
            ChannelType::SmppEsme => {
                serde_json::json!({"type": ty, "smpp": {"address": "h:1", "system_id": "s"}})
            }
            _ => serde_json::json!({"type": ty, "flow": "f"}),
        }
    }

    #[test]
    fn every_type_reads_into_its_own_arm_and_kind_keys_are_theirs() {
        let mut all: Vec<&str> = vec!["type"];
        for ty in ChannelType::ALL {
            let c = ChannelConfig::parse("x", &minimal(ty)).unwrap();
            assert_eq!(c.channel_type(), ty);
            c.validate("x").unwrap();
            let direct: ChannelConfig = serde_json::from_value(minimal(ty)).unwrap();
            assert_eq!(direct, c, "deserializing directly reads the same");
            for k in own_keys(ty) {
                if !all.contains(k) {
                    all.push(k);
                }
            }
        }
        assert_eq!(all, KIND_KEYS);
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
                serde_json::json!({"type": "smpp-esme"}),
                "channels.x.smpp",
                "needs its [smpp] section",
            ),
            (
                serde_json::json!({"flow": "f"}),
                "channels.x",
                "missing field `type`",
            ),
            (
                serde_json::json!({"type": "simulated-carrier", "colour": "red"}),
                "channels.x",
                "unknown field `colour`",
            ),
            (
                serde_json::json!({"type": "simulated-carrier", "hop_deadline_ms": "soon"}),
                "channels.x.hop_deadline_ms",
                "invalid type",
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
