//! Channel definitions and their generations.

use super::*;

async fn channel_rows_count_generations(store: Arc<dyn Store>) {
    assert!(store.channels_stored().await.unwrap().is_empty());
    let def = serde_json::json!({"type": "simulated-carrier", "sim_dlr_delay_ms": 10});
    let first = store.channel_put("partner-sms", &def).await.unwrap();
    assert_eq!((first.generation, first.definition.as_ref()), (1, Some(&def)));
    let restarted = store.channel_restart("partner-sms").await.unwrap();
    assert_eq!(restarted.generation, 2);
    assert_eq!(
        restarted.definition.as_ref(),
        Some(&def),
        "a restart keeps the definition"
    );
    // A restart of a config-file channel makes a row without a definition.
    let file = store.channel_restart("demo-sms").await.unwrap();
    assert_eq!((file.generation, file.definition), (1, None));
    let def2 = serde_json::json!({"type": "simulated-carrier", "sim_dlr_delay_ms": 20});
    assert_eq!(
        store.channel_put("partner-sms", &def2).await.unwrap().generation,
        3
    );
    let all = store.channels_stored().await.unwrap();
    assert_eq!(
        all.iter()
            .map(|c| (c.name.as_str(), c.generation))
            .collect::<Vec<_>>(),
        [("demo-sms", 1), ("partner-sms", 3)]
    );
    assert_eq!(all[1].definition.as_ref(), Some(&def2));
    assert!(store.channel_delete("partner-sms").await.unwrap());
    assert!(!store.channel_delete("partner-sms").await.unwrap());
    assert_eq!(store.channels_stored().await.unwrap().len(), 1);
}

conformance!(channel_rows_count_generations,);
