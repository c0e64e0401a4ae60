//! Every transcript in the repository's `flows/` passes, and a wrong one fails with a diff.

#![allow(clippy::unwrap_used, clippy::field_reassign_with_default)] // tests: panics are failures

use std::path::PathBuf;

use seedgate_flowlang::interp::{step, Input, RunContact};
use seedgate_flowlang::transcript::run_all;

fn flows_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../flows")
}

#[test]
fn the_repository_flows_load_and_their_transcripts_pass() {
    let flows = seedgate_flowlang::load_dir(&flows_dir()).unwrap();
    assert!(flows.get("demo").is_some());
    let (ran, failures) = run_all(&flows);
    assert!(ran >= 9, "transcripts ran: {ran}");
    assert!(
        failures.is_empty(),
        "{}",
        failures
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_builtin_demo_is_the_repository_demo() {
    let on_disk = std::fs::read_to_string(flows_dir().join("demo.yaml")).unwrap();
    assert_eq!(seedgate_flowlang::BUILTIN_DEMO, on_disk);
}

#[test]
fn a_wrong_transcript_fails_with_a_readable_diff() {
    let text = seedgate_flowlang::BUILTIN_DEMO.replace("2. About MomConnect\n", "2. About Us\n");
    let flows = seedgate_flowlang::load_str("demo.yaml", &text).unwrap();
    let (_, failures) = run_all(&flows);
    assert_eq!(failures.len(), 1, "{failures:?}");
    let report = failures[0].to_string();
    assert!(report.contains("test `registers`, step 1"), "{report}");
    assert!(
        report.contains("  - 2. About Us\n  + 2. About MomConnect"),
        "{report}"
    );
}

#[test]
fn the_interpreter_walks_menus_to_an_end_screen() {
    let flows = seedgate_flowlang::load_str("demo.yaml", seedgate_flowlang::BUILTIN_DEMO).unwrap();
    let contact = RunContact {
        msisdn: "+27820000001".into(),
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let out = step(&flows, "demo", None, &contact, Input::Start, now).unwrap();
    assert!(!out.end && out.text.as_deref().unwrap().starts_with("Welcome"));
    let state = out.state.unwrap();
    assert_eq!((state.flow.as_str(), state.node.as_str()), ("demo", "welcome"));
    let out = step(&flows, "demo", Some(state), &contact, Input::Reply(" 2 "), now).unwrap();
    assert!(out.end, "{out:?}");
    assert_eq!(out.state, None);
    assert!(step(&flows, "nope", None, &contact, Input::Start, now).is_err());
}

#[test]
fn the_json_schema_in_the_repository_is_fresh() {
    // Regenerate after a deliberate change to the format with `seedgate flow schema`.
    let path = flows_dir().join("flow-file.schema.json");
    let rendered = serde_json::to_string_pretty(&seedgate_flowlang::schema()).unwrap() + "\n";
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    if on_disk != rendered {
        std::fs::write(&path, &rendered).unwrap();
        panic!("{} was stale and has been rewritten; commit it", path.display());
    }
}
