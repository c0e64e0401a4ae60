//! The audit trail.

use super::*;

fn entry(actor: &str, action: &str, target: &str) -> AuditEntry {
    AuditEntry::now(
        actor,
        action,
        target,
        serde_json::json!({"name": target, "scopes": ["send"]}),
        "127.0.0.1",
    )
}

async fn audit_entries_are_kept_whole_and_read_newest_first_by_filter(store: Arc<dyn Store>) {
    let written = [
        entry("cli:partner", "token.create", "t1"),
        entry("ops@clinic.org", "channel.create", "mtn-sms"),
        entry("ops@clinic.org", "token.revoke", "t1"),
        entry("token:deploy", "channel.update", "mtn-sms"),
        entry("ops@clinic.org", "token.create", "t2"),
    ];
    for e in &written {
        store.audit_append(e).await.unwrap();
    }
    let all = store
        .audit_list(&AuditQuery {
            limit: 50,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let newest_first: Vec<AuditEntry> = written.iter().rev().cloned().collect();
    assert_eq!(all.len(), 5);
    for (got, want) in all.iter().zip(&newest_first) {
        assert_eq!(
            (&got.id, &got.actor, &got.action, &got.target),
            (&want.id, &want.actor, &want.action, &want.target)
        );
        assert_eq!((&got.detail, &got.source), (&want.detail, &want.source));
        assert!(
            (got.at - want.at).num_milliseconds().abs() < 1,
            "{} vs {}",
            got.at,
            want.at
        );
    }

    let actions = |q: AuditQuery| {
        let store = store.clone();
        async move {
            store
                .audit_list(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|e| format!("{} {}", e.action, e.target))
                .collect::<Vec<_>>()
        }
    };
    let q = |action: Option<&str>, actor: Option<&str>| AuditQuery {
        action: action.map(str::to_string),
        actor: actor.map(str::to_string),
        limit: 50,
        before: None,
    };
    assert_eq!(
        actions(q(Some("token.create"), None)).await,
        ["token.create t2", "token.create t1"]
    );
    assert_eq!(
        actions(q(Some("token."), None)).await,
        ["token.create t2", "token.revoke t1", "token.create t1"],
        "a kind of thing, with its dot"
    );
    assert_eq!(
        actions(q(Some("channel."), Some("ops@clinic.org"))).await,
        ["channel.create mtn-sms"]
    );
    assert!(
        actions(q(Some("token"), None)).await.is_empty(),
        "no action is called `token`"
    );
    // Pages: after the cursor, older ones.
    let page = AuditQuery {
        before: Some(written[3].id),
        limit: 2,
        ..AuditQuery::default()
    };
    assert_eq!(actions(page).await, ["token.revoke t1", "channel.create mtn-sms"]);
}

conformance!(audit_entries_are_kept_whole_and_read_newest_first_by_filter,);
