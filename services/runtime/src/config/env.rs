//! The `SEEDGATE_*` environment overlay: `SEEDGATE_<SECTION>__<KEY>=value` sets a key of the
//! TOML tree before it is read, `SEEDGATE_FILE__<SECTION>__<KEY>=path` sets it to a file's
//! content (a mounted secret).

use super::{invalid, ConfigError};

/// Applies the `SEEDGATE_*` entries of `env` to `root`; other variables are ignored.
pub(super) fn overlay(
    root: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (name, value) in env {
        let Some(rest) = name.strip_prefix("SEEDGATE_") else {
            continue;
        };
        // SEEDGATE_CONFIG names the file itself; it is not a key.
        if rest == "CONFIG" {
            continue;
        }
        // SEEDGATE_FILE__STORE__URL=/run/secrets/store_url: the key's value is the file's
        // content (for secrets mounted as files: database URLs with passwords, …).
        if let Some(path) = rest.strip_prefix("FILE__") {
            let text = std::fs::read_to_string(&value).map_err(|e| {
                invalid(
                    format!("SEEDGATE_FILE__{path}"),
                    format!("cannot read {value}: {e}"),
                )
            })?;
            apply_override(root, path, text.trim_end_matches(['\r', '\n']))?;
            continue;
        }
        apply_override(root, rest, &value)?;
    }
    Ok(())
}

/// Sets the key path `SEEDGATE_A__B__C` (already stripped of its prefix) in `root`.
fn apply_override(root: &mut toml::Table, path: &str, raw: &str) -> Result<(), ConfigError> {
    let segments: Vec<String> = path.split("__").map(str::to_ascii_lowercase).collect();
    if segments.iter().any(String::is_empty) {
        return Err(invalid(
            format!("SEEDGATE_{path}"),
            "empty key segment in environment override",
        ));
    }
    let mut table = root;
    for (i, seg) in segments.iter().enumerate() {
        // An existing key matches when `-` and `_` are taken as equal (channel names).
        let existing = table
            .keys()
            .find(|k| k.replace('-', "_") == seg.replace('-', "_"))
            .cloned();
        let key = existing.unwrap_or_else(|| seg.clone());
        if i + 1 == segments.len() {
            table.insert(key, parse_env_value(raw));
            return Ok(());
        }
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => {
                return Err(invalid(
                    segments[..=i].join("."),
                    format!("SEEDGATE_{path} treats a value as a section"),
                ))
            }
        };
    }
    Ok(())
}

/// A TOML literal when the value parses as one (numbers, booleans), else a string.
fn parse_env_value(raw: &str) -> toml::Value {
    format!("v = {raw}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}
