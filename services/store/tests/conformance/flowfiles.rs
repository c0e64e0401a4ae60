//! Flow files: optimistic drafts, published versions in one global order, the audit trail,
//! the first import, arrow counters and the session summary — and saves, publishes and
//! imports racing each other.

use chrono::NaiveDate;

use super::*;
use crate::helpers::at_ms;

fn saved(s: Saved) -> FlowDraft {
    match s {
        Saved::Saved(d) => d,
        Saved::Conflict(d) => panic!("conflict with {d:?}"),
    }
}

fn published(p: Published) -> FlowVersion {
    match p {
        Published::Published(v) => v,
        other => panic!("not published: {other:?}"),
    }
}

/// (file, number) of each version.
fn numbers(vs: &[FlowVersion]) -> Vec<(&str, i64)> {
    vs.iter().map(|v| (v.file.as_str(), v.number)).collect()
}

/// (action, actor, revision, version) of each audit row.
async fn audit(store: &Arc<dyn Store>, file: &str) -> Vec<(String, String, Option<i64>, Option<i64>)> {
    let rows = store.flow_audit(file, 100).await.unwrap();
    rows.into_iter()
        .map(|a| {
            assert_eq!(a.file, file);
            (a.action, a.actor, a.revision, a.version)
        })
        .collect()
}

fn row(
    action: &str,
    actor: &str,
    revision: Option<i64>,
    version: Option<i64>,
) -> (String, String, Option<i64>, Option<i64>) {
    (action.into(), actor.into(), revision, version)
}

async fn drafts_are_saved_optimistically(store: Arc<dyn Store>) {
    assert_eq!(store.flow_draft("demo.flow").await.unwrap(), None);
    assert!(store.flow_files().await.unwrap().is_empty());
    let first = saved(
        store
            .flow_save("demo.flow", "one", Some(0), "ana@example.org")
            .await
            .unwrap(),
    );
    assert_eq!(
        (
            first.file.as_str(),
            first.text.as_str(),
            first.revision,
            first.updated_by.as_str()
        ),
        ("demo.flow", "one", 1, "ana@example.org")
    );
    assert_eq!(first.layout, serde_json::json!({}));
    assert_eq!(store.flow_draft("demo.flow").await.unwrap(), Some(first.clone()));

    let Saved::Conflict(now) = store
        .flow_save("demo.flow", "other", Some(0), "bo@example.org")
        .await
        .unwrap()
    else {
        panic!("Some(0) on an existing file must conflict");
    };
    assert_eq!(now, first, "the conflict carries the draft as it is");

    let second = saved(
        store
            .flow_save("demo.flow", "two", Some(1), "bo@example.org")
            .await
            .unwrap(),
    );
    assert_eq!((second.revision, second.text.as_str()), (2, "two"));
    let Saved::Conflict(now) = store
        .flow_save("demo.flow", "stale", Some(1), "ana@example.org")
        .await
        .unwrap()
    else {
        panic!("a stale base revision must conflict");
    };
    assert_eq!(
        (now.revision, now.text.as_str(), now.updated_by.as_str()),
        (2, "two", "bo@example.org"),
        "who saved first"
    );
    let third = saved(store.flow_save("demo.flow", "three", None, "cli").await.unwrap());
    assert_eq!(third.revision, 3, "None saves over whatever is there");

    let layout = serde_json::json!({"start": {"x": 10, "y": 20}});
    assert!(store.flow_set_layout("demo.flow", &layout).await.unwrap());
    assert!(!store.flow_set_layout("nope.flow", &layout).await.unwrap());
    let kept = store.flow_draft("demo.flow").await.unwrap().unwrap();
    assert_eq!(
        (kept.revision, &kept.layout),
        (3, &layout),
        "a layout is no new revision"
    );
    let fourth = saved(
        store
            .flow_save("demo.flow", "four", Some(3), "ana@example.org")
            .await
            .unwrap(),
    );
    assert_eq!(
        (fourth.revision, &fourth.layout),
        (4, &layout),
        "a save keeps the layout"
    );

    assert_eq!(
        audit(&store, "demo.flow").await,
        [
            row("save", "ana@example.org", Some(4), None),
            row("save", "cli", Some(3), None),
            row("save", "bo@example.org", Some(2), None),
            row("save", "ana@example.org", Some(1), None),
        ],
        "newest first; conflicts and layouts leave no row"
    );
    assert_eq!(store.flow_audit("demo.flow", 2).await.unwrap().len(), 2);
    assert!(store.flow_audit("nope.flow", 10).await.unwrap().is_empty());
}

async fn publishes_are_numbered_per_file_and_ordered_across_files(store: Arc<dyn Store>) {
    assert_eq!(store.flow_live_seq().await.unwrap(), 0);
    assert!(store.flow_live(None).await.unwrap().is_empty());
    store.flow_save("b.flow", "b1", Some(0), "ana").await.unwrap();
    store.flow_save("a.flow", "a1", Some(0), "ana").await.unwrap();
    store.flow_save("c.flow", "c1", Some(0), "ana").await.unwrap();

    let a1 = published(store.flow_publish("a.flow", Some(1), "pub").await.unwrap());
    assert_eq!(
        (a1.number, a1.text.as_str(), a1.published_by.as_str()),
        (1, "a1", "pub")
    );
    assert_eq!(
        store.flow_publish("nope.flow", None, "pub").await.unwrap(),
        Published::NoDraft
    );
    store.flow_save("a.flow", "a2", Some(1), "bo").await.unwrap();
    let Published::Conflict(now) = store.flow_publish("a.flow", Some(1), "pub").await.unwrap() else {
        panic!("a stale base revision must conflict");
    };
    assert_eq!(
        (now.revision, now.text.as_str(), now.updated_by.as_str()),
        (2, "a2", "bo")
    );
    let b1 = published(store.flow_publish("b.flow", None, "pub").await.unwrap());
    let a2 = published(store.flow_publish("a.flow", Some(2), "pub").await.unwrap());
    assert_eq!((b1.number, a2.number, a2.text.as_str()), (1, 2, "a2"));
    assert!(a1.seq < b1.seq && b1.seq < a2.seq, "seq grows across files");
    assert_eq!(store.flow_live_seq().await.unwrap(), a2.seq);

    assert_eq!(
        store.flow_versions("a.flow").await.unwrap(),
        [a2.clone(), a1.clone()]
    );
    assert_eq!(store.flow_version("a.flow", 1).await.unwrap(), Some(a1.clone()));
    assert_eq!(store.flow_version("a.flow", 3).await.unwrap(), None);
    assert!(store.flow_versions("c.flow").await.unwrap().is_empty());

    assert_eq!(store.flow_live(None).await.unwrap(), [a2.clone(), b1.clone()]);
    assert_eq!(
        numbers(&store.flow_live(Some(a1.seq)).await.unwrap()),
        [("a.flow", 1)]
    );
    assert_eq!(
        numbers(&store.flow_live(Some(b1.seq)).await.unwrap()),
        [("a.flow", 1), ("b.flow", 1)]
    );
    assert_eq!(
        numbers(&store.flow_live(Some(a2.seq)).await.unwrap()),
        [("a.flow", 2), ("b.flow", 1)]
    );
    assert!(store.flow_live(Some(a1.seq - 1)).await.unwrap().is_empty());

    let files = store.flow_files().await.unwrap();
    let listed: Vec<_> = files
        .iter()
        .map(|f| (f.file.as_str(), f.revision, f.published, f.published_at))
        .collect();
    assert_eq!(
        listed,
        [
            ("a.flow", 2, Some(2), Some(a2.published_at)),
            ("b.flow", 1, Some(1), Some(b1.published_at)),
            ("c.flow", 1, None, None),
        ]
    );
    assert_eq!(
        audit(&store, "a.flow").await,
        [
            row("publish", "pub", Some(2), Some(2)),
            row("save", "bo", Some(2), None),
            row("publish", "pub", Some(1), Some(1)),
            row("save", "ana", Some(1), None),
        ]
    );
}

async fn a_restore_makes_an_old_version_the_draft(store: Arc<dyn Store>) {
    store.flow_save("demo.flow", "one", Some(0), "ana").await.unwrap();
    published(store.flow_publish("demo.flow", None, "ana").await.unwrap());
    store.flow_save("demo.flow", "two", Some(1), "ana").await.unwrap();
    published(store.flow_publish("demo.flow", None, "ana").await.unwrap());
    let layout = serde_json::json!({"n1": [1, 2]});
    store.flow_set_layout("demo.flow", &layout).await.unwrap();

    let restored = store.flow_restore("demo.flow", 1, "bo").await.unwrap().unwrap();
    assert_eq!(
        (
            restored.text.as_str(),
            restored.revision,
            restored.updated_by.as_str(),
            &restored.layout
        ),
        ("one", 3, "bo", &layout)
    );
    assert_eq!(store.flow_draft("demo.flow").await.unwrap(), Some(restored));
    assert_eq!(store.flow_restore("demo.flow", 9, "bo").await.unwrap(), None);
    assert_eq!(store.flow_restore("nope.flow", 1, "bo").await.unwrap(), None);
    assert_eq!(
        store.flow_versions("demo.flow").await.unwrap().len(),
        2,
        "a restore publishes nothing"
    );
    assert_eq!(
        audit(&store, "demo.flow").await[0],
        row("restore", "bo", Some(3), Some(1))
    );
    assert_eq!(audit(&store, "demo.flow").await.len(), 5);
}

async fn a_roll_back_publishes_an_old_version_and_keeps_the_draft(store: Arc<dyn Store>) {
    store.flow_save("demo.flow", "one", Some(0), "ana").await.unwrap();
    published(store.flow_publish("demo.flow", None, "ana").await.unwrap());
    store.flow_save("demo.flow", "two", Some(1), "ana").await.unwrap();
    let two = published(store.flow_publish("demo.flow", None, "ana").await.unwrap());
    store
        .flow_save("demo.flow", "three, unfinished", Some(2), "bo")
        .await
        .unwrap();

    let v = store
        .flow_republish("demo.flow", 1, "pub")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (v.number, v.text.as_str(), v.published_by.as_str()),
        (3, "one", "pub")
    );
    assert!(v.seq > two.seq);
    assert_eq!(store.flow_live_seq().await.unwrap(), v.seq);
    let draft = store.flow_draft("demo.flow").await.unwrap().unwrap();
    assert_eq!(
        (draft.text.as_str(), draft.revision),
        ("three, unfinished", 3),
        "the draft is left alone"
    );
    assert_eq!(
        audit(&store, "demo.flow").await[0],
        row("rollback", "pub", None, Some(3))
    );
    assert_eq!(store.flow_republish("demo.flow", 9, "pub").await.unwrap(), None);
    assert_eq!(store.flow_versions("demo.flow").await.unwrap().len(), 3);
}

async fn the_flows_folder_is_imported_once(store: Arc<dyn Store>) {
    let files = vec![
        ("b.flow".to_string(), "B".to_string()),
        ("a.flow".into(), "A".into()),
    ];
    assert!(store.flow_import_initial(&files, "cli").await.unwrap());
    let live = store.flow_live(None).await.unwrap();
    assert_eq!(numbers(&live), [("a.flow", 1), ("b.flow", 1)]);
    assert_eq!(
        (live[0].text.as_str(), live[0].published_by.as_str()),
        ("A", "cli")
    );
    assert_ne!(live[0].seq, live[1].seq);
    let seq = store.flow_live_seq().await.unwrap();
    assert_eq!(seq, live[0].seq.max(live[1].seq));
    let draft = store.flow_draft("a.flow").await.unwrap().unwrap();
    assert_eq!((draft.text.as_str(), draft.revision), ("A", 1));
    assert_eq!(
        audit(&store, "a.flow").await,
        [row("import", "cli", Some(1), Some(1))]
    );

    let again = vec![
        ("a.flow".to_string(), "A2".to_string()),
        ("c.flow".into(), "C".into()),
    ];
    assert!(!store.flow_import_initial(&again, "cli").await.unwrap());
    assert_eq!(
        store.flow_draft("a.flow").await.unwrap(),
        Some(draft),
        "nothing written"
    );
    assert_eq!(store.flow_draft("c.flow").await.unwrap(), None);
    assert_eq!(store.flow_live_seq().await.unwrap(), seq);
    assert_eq!(audit(&store, "a.flow").await.len(), 1);
}

async fn arrow_counters_add_up_per_day(store: Arc<dyn Store>) {
    let day = |d: u32| NaiveDate::from_ymd_opt(2027, 1, d).unwrap();
    let stat = |flow: &str, d: u32, from: &str, to: &str, count: i64| FlowStat {
        flow: flow.into(),
        day: day(d),
        from: from.into(),
        to: to.into(),
        count,
    };
    store.flow_stats_add(&[]).await.unwrap();
    store
        .flow_stats_add(&[
            stat("demo", 1, "", "start", 3),
            stat("demo", 1, "start", "menu", 2),
            stat("demo", 2, "start", "menu", 5),
            stat("demo", 2, "menu", "", 4),
            stat("other", 2, "", "start", 7),
        ])
        .await
        .unwrap();
    store
        .flow_stats_add(&[
            stat("demo", 2, "start", "menu", 1),
            stat("demo", 1, "", "start", 1),
        ])
        .await
        .unwrap();
    let arrows = |rows: Vec<FlowStat>| -> Vec<(String, String, i64)> {
        rows.into_iter().map(|s| (s.from, s.to, s.count)).collect()
    };
    let since1 = store.flow_stats("demo", day(1)).await.unwrap();
    assert!(since1.iter().all(|s| s.flow == "demo" && s.day == day(1)));
    assert_eq!(
        arrows(since1),
        [
            ("".into(), "start".into(), 4),
            ("menu".into(), "".into(), 4),
            ("start".into(), "menu".into(), 8),
        ]
    );
    assert_eq!(
        arrows(store.flow_stats("demo", day(2)).await.unwrap()),
        [("menu".into(), "".into(), 4), ("start".into(), "menu".into(), 6)]
    );
    assert!(store.flow_stats("demo", day(3)).await.unwrap().is_empty());
}

async fn the_session_summary_counts_a_flows_sessions(store: Arc<dyn Store>) {
    let rec = |id: &str, flow: Option<&str>, started_ms: i64, slices: u32| SessionRecord {
        id: id.into(),
        channel: "demo-at".into(),
        msisdn: "+27820000005".into(),
        flow: flow.map(str::to_string),
        started_at: at_ms(started_ms),
        ended_at: Some(at_ms(started_ms + 20_000)),
        hops: 3,
        duration_ms: 20_000,
        slices,
        end_reason: Some(SessionEndReason::Completed),
        carrier: None,
    };
    let records = [
        rec("s1", Some("demo"), 0, 2),
        rec("s2", Some("demo"), 10_000, 3),
        rec("s3", Some("demo"), 20_000, 4),
        rec("s4", Some("reg"), 10_000, 9),
        rec("s5", None, 10_000, 9),
    ];
    let batch: Vec<Record> = records.into_iter().map(Record::Session).collect();
    store.write_batch(&batch).await.unwrap();
    assert_eq!(
        store.flow_session_summary("demo", at_ms(0)).await.unwrap(),
        (3, 3.0)
    );
    assert_eq!(
        store.flow_session_summary("demo", at_ms(10_000)).await.unwrap(),
        (2, 3.5)
    );
    assert_eq!(
        store.flow_session_summary("demo", at_ms(30_000)).await.unwrap(),
        (0, 0.0)
    );
    assert_eq!(
        store.flow_session_summary("nope", at_ms(0)).await.unwrap(),
        (0, 0.0)
    );
}

async fn of_two_saves_from_one_revision_one_wins(store: Arc<dyn Store>) {
    let mut base = saved(
        store
            .flow_save("demo.flow", "base", Some(0), "ana")
            .await
            .unwrap(),
    );
    for round in 0..5 {
        let save = |who: &'static str| {
            let store = store.clone();
            let revision = base.revision;
            tokio::spawn(async move {
                store
                    .flow_save("demo.flow", &format!("{who} {round}"), Some(revision), who)
                    .await
                    .unwrap()
            })
        };
        let (a, b) = (save("ana"), save("bo"));
        let (a, b) = (a.await.unwrap(), b.await.unwrap());
        let (won, lost) = match (a, b) {
            (Saved::Saved(w), Saved::Conflict(l)) | (Saved::Conflict(l), Saved::Saved(w)) => (w, l),
            other => panic!("round {round}: want one Saved and one Conflict, got {other:?}"),
        };
        assert_eq!(won.revision, base.revision + 1);
        assert_eq!(lost, won, "the loser sees the winner's draft");
        base = won;
    }
    assert_eq!(
        store.flow_audit("demo.flow", 100).await.unwrap().len(),
        6,
        "one row per save that won"
    );
}

async fn racing_publishes_get_every_seq_once(store: Arc<dyn Store>) {
    let files: Vec<String> = (0..4).map(|i| format!("f{i}.flow")).collect();
    for f in &files {
        store.flow_save(f, "text", Some(0), "ana").await.unwrap();
    }
    let mut seqs = Vec::new();
    for _ in 0..2 {
        let tasks: Vec<_> = files
            .iter()
            .map(|f| {
                let (store, f) = (store.clone(), f.clone());
                tokio::spawn(async move { store.flow_publish(&f, Some(1), "pub").await.unwrap() })
            })
            .collect();
        for t in tasks {
            seqs.push(published(t.await.unwrap()).seq);
        }
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=8).collect::<Vec<i64>>(), "no seq twice, none skipped");
    assert_eq!(store.flow_live_seq().await.unwrap(), 8);
    let live = store.flow_live(None).await.unwrap();
    assert!(live.iter().all(|v| v.number == 2), "{live:?}");
}

async fn racing_imports_import_once(store: Arc<dyn Store>) {
    let files = vec![
        ("a.flow".to_string(), "A".to_string()),
        ("b.flow".into(), "B".into()),
    ];
    let import = || {
        let (store, files) = (store.clone(), files.clone());
        tokio::spawn(async move { store.flow_import_initial(&files, "cli").await.unwrap() })
    };
    let (a, b) = (import(), import());
    let (a, b) = (a.await.unwrap(), b.await.unwrap());
    assert!(a ^ b, "exactly one import: {a} {b}");
    assert_eq!(store.flow_versions("a.flow").await.unwrap().len(), 1);
    assert_eq!(store.flow_live_seq().await.unwrap(), 2);
}

conformance!(
    drafts_are_saved_optimistically,
    publishes_are_numbered_per_file_and_ordered_across_files,
    a_restore_makes_an_old_version_the_draft,
    a_roll_back_publishes_an_old_version_and_keeps_the_draft,
    the_flows_folder_is_imported_once,
    arrow_counters_add_up_per_day,
    the_session_summary_counts_a_flows_sessions,
    of_two_saves_from_one_revision_one_wins,
    racing_publishes_get_every_seq_once,
    racing_imports_import_once,
);
