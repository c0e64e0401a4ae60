//! The configuration files under `deploy/` load and validate (a key renamed in the code, or
//! mistyped in a file, fails here before an operator finds it).

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::path::PathBuf;

use seedgate_runtime::config::Config;

#[test]
fn every_shipped_config_loads() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for file in [
        "deploy/seedgate.split.toml",
        "deploy/compose/seedgate.toml",
        "deploy/k8s/base/seedgate.toml",
    ] {
        let path = root.join(file);
        let config = Config::load(Some(&path), Vec::<(String, String)>::new())
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(config.channels.contains_key("momconnect-at"), "{file}");
        assert!(config.channels.contains_key("demo-sms"), "{file}");
    }
}
