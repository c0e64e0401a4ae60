//! Loading: defaults, environment overrides, files, and errors that name the key.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn load_str(toml_text: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = std::env::temp_dir().join(format!("seedgate-config-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("seedgate.toml");
    std::fs::write(&path, toml_text).unwrap();
    let out = Config::load(Some(&path), env(pairs));
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

#[test]
fn defaults_are_the_embedded_deployment() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.http.listen, "127.0.0.1:8080");
    assert_eq!(c.bus.kind, BusKind::InProcess);
    assert_eq!(
        c.bus.queue_type,
        QueueType::Quorum,
        "new deployments get quorum queues"
    );
    assert_eq!(c.session_store.kind, SessionStoreKind::InProcess);
    assert_eq!(c.store.kind, StoreKind::Sqlite);
    assert_eq!(c.sessions.budget_secs, 180);
    assert_eq!(c.channels["demo-at"].flow.as_deref(), Some("demo"));
    assert_eq!(
        c.channels["demo-sms"].channel_type(),
        ChannelType::SimulatedCarrier
    );
    assert_eq!(c.smpp_server.listen, "127.0.0.1:2775");
    assert_eq!(c.smpp_server.accounts[0].route, "demo-sms");
    assert_eq!(
        c.channels["demo-at"].channel_type(),
        ChannelType::AfricasTalkingUssd
    );
}

#[test]
fn env_overrides_nest_and_type_their_values() {
    let c = Config::load(
        None,
        env(&[
            ("SEEDGATE_BUS__KIND", "rabbitmq"),
            ("SEEDGATE_BUS__PREFETCH", "7"),
            ("SEEDGATE_CHANNELS__DEMO_AT__HOP_DEADLINE_MS", "1500"),
            ("SEEDGATE_CONFIG", "ignored.toml"),
            ("HOME", "/root"),
        ]),
    )
    .unwrap();
    assert_eq!(c.bus.kind, BusKind::Rabbitmq);
    assert_eq!(c.bus.prefetch, 7);
    assert_eq!(c.channels["demo-at"].hop_deadline_ms, 1500);
    assert_eq!(c.channels.len(), 3, "the override matched the existing channel");
}

#[test]
fn a_value_can_come_from_a_file() {
    let dir = std::env::temp_dir().join(format!("seedgate-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let secret = dir.join("store_url");
    std::fs::write(&secret, "postgres://seedgate:s3cret@db/seedgate\n").unwrap();
    let c = Config::load(
        None,
        env(&[("SEEDGATE_FILE__STORE__URL", secret.to_str().unwrap())]),
    )
    .unwrap();
    assert_eq!(c.store.url, "postgres://seedgate:s3cret@db/seedgate");
    let e = Config::load(None, env(&[("SEEDGATE_FILE__STORE__URL", "/nonexistent/x")]))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("SEEDGATE_FILE__STORE__URL") && e.contains("/nonexistent/x"),
        "{e}"
    );
}

#[test]
fn env_overrides_win_over_the_file() {
    let c = load_str(
        "[http]\nlisten = \"127.0.0.1:9000\"\n",
        &[("SEEDGATE_HTTP__LISTEN", "127.0.0.1:9001")],
    )
    .unwrap();
    assert_eq!(c.http.listen, "127.0.0.1:9001");
}

#[test]
fn a_file_with_channels_replaces_the_demo_channel() {
    let c = load_str(
        "[channels.mtn-ng]\ntype = \"africastalking-ussd\"\nflow = \"reg\"\n[smpp_server]\nenabled = false\n",
        &[],
    )
    .unwrap();
    assert_eq!(c.channels.keys().collect::<Vec<_>>(), vec!["mtn-ng"]);
    assert_eq!(c.channels["mtn-ng"].hop_deadline_ms, 4000);
}

#[test]
fn errors_name_the_key() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        ("[bus]\nprefetch = \"many\"\n", &[], "bus.prefetch"),
        ("[bus]\nkind = \"kafka\"\n", &[], "bus.kind"),
        ("[bus]\nqueue_type = \"stream\"\n", &[], "bus.queue_type"),
        ("", &[("SEEDGATE_BUS__PUBLISH_TIMEOUT_MS", "0")], "bus.publish_timeout_ms"),
        ("[bus]\nprefech = 3\n", &[], "prefech"),
        ("", &[("SEEDGATE_STORE__KIND", "oracle")], "store.kind"),
        (
            "",
            &[("SEEDGATE_SESSIONS__BUDGET_SECS", "0")],
            "sessions.budget_secs",
        ),
        ("", &[("SEEDGATE_HTTP__LISTEN", "localhost")], "http.listen"),
        (
            "[channels.\"a.b\"]\ntype = \"africastalking-ussd\"\nflow = \"x\"\n",
            &[],
            "channels.a.b",
        ),
        (
            "[channels.x]\ntype = \"africastalking-ussd\"\nflow = \"x\"\nhop_deadline_ms = 0\n",
            &[],
            "channels.x.hop_deadline_ms",
        ),
        (
            "[channels.x]\ntype = \"smoke-signals\"\nflow = \"x\"\n",
            &[],
            "channels.x.type",
        ),
        ("", &[("SEEDGATE_HTTP__LISTEN__PORT", "1")], "http.listen"),
        (
            "[channels.x]\ntype = \"smpp-esme\"\n[channels.x.smpp]\naddress = \"h:1\"\nsystem_id = \"s\"\nbinds = \"two\"\n",
            &[],
            "channels.x.smpp.binds",
        ),
        (
            "[channels.x]\ntype = \"africastalking-ussd\"\nflow = \"x\"\nsim_dlr_delay_ms = 5\n",
            &[],
            "channels.x.sim_dlr_delay_ms",
        ),
    ];
    for (file, pairs, key) in cases {
        let err = load_str(file, pairs).unwrap_err().to_string();
        assert!(
            err.contains(key),
            "{file:?} {pairs:?}: `{err}` does not name `{key}`"
        );
    }
}

#[test]
fn toml_syntax_errors_name_the_file() {
    let err = load_str("[bus\n", &[]).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { .. }), "{err}");
    assert!(err.to_string().contains("seedgate.toml"));
}
