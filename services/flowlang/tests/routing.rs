//! The routing bodies (`subflow`, `random`, `wait`, `group`): the transcripts of
//! `tests/flows/routing.yaml`, what the validator refuses, how a random split spreads, and
//! that run states saved before subflows still load.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use std::collections::BTreeMap;

use seedgate_flowlang::interp::{step_seeded, Input, RunContact, RunState};
use seedgate_flowlang::load::{check, Source};
use seedgate_flowlang::paths::path_slices;
use seedgate_flowlang::transcript::run_all;
use seedgate_flowlang::validate::{Limits, Report};

const ROUTING: &str = include_str!("flows/routing.yaml");

fn report(text: &str) -> Report {
    let src = Source {
        path: "routing.yaml".into(),
        text: text.into(),
    };
    check(&[src], &Limits::default()).1
}

#[test]
fn the_routing_transcripts_pass() {
    let flows = seedgate_flowlang::load_str("routing.yaml", ROUTING).unwrap();
    let (ran, failures) = run_all(&flows);
    assert_eq!(ran, 6);
    let failures: Vec<String> = failures.iter().map(ToString::to_string).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `ROUTING` with `from` replaced by `to` must report an error (or, with `warning`, a
/// warning) containing `reason` on `line`.
fn refused(from: &str, to: &str, line: usize, reason: &str) -> Option<String> {
    assert!(ROUTING.contains(from), "routing.yaml has no {from:?}");
    let r = report(&ROUTING.replacen(from, to, 1));
    let found = r
        .errors
        .iter()
        .chain(&r.warnings)
        .find(|e| e.reason.contains(reason));
    match found {
        None => Some(format!("{from:?} → {to:?}: no {reason:?} in {:#?}", r.errors)),
        Some(e) if e.line != Some(line) => Some(format!("{e}: expected line {line}")),
        Some(_) => None,
    }
}

#[test]
fn the_validator_refuses_broken_routing_with_its_line() {
    let r = report(ROUTING);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "subflow: {flow: agree, then: check}",
            "subflow: {flow: agrees, then: check}",
            18,
            "runs flow `agrees`, which does not exist",
        ),
        (
            "subflow: {flow: agree, then: check}",
            "subflow: {flow: agree, then: chek}",
            18,
            "goes to `chek`, which does not exist",
        ),
        (
            "subflow: {flow: agree, then: check}",
            "subflow: {flow: clinic, then: check}",
            18,
            "leads back to `clinic` (clinic → clinic)",
        ),
        (
            "        end: {text: \"Thank you for agreeing.\"}",
            "        subflow: {flow: clinic, then: refused}",
            18,
            "leads back to `clinic` (clinic → agree → clinic)",
        ),
        (
            "subflow: {flow: agree, then: check}",
            "subflow: {flow: reminder, then: check}",
            18,
            "flow `clinic` is a USSD flow and `reminder` is an SMS flow",
        ),
        (
            "            - {weight: 1, goto: short, category: short}\n            - {weight: 1,",
            "            - {weight: 0, goto: short, category: short}\n            - {weight: 0,",
            28,
            "every branch has weight 0",
        ),
        (
            "cases:\n            - {group: mothers, goto: welcome_back}",
            "cases: []",
            10,
            "has no cases",
        ),
        (
            "        ask: {text: \"What is your name?\", result: name, goto: arm}",
            "        wait: {for: 2d, goto: arm}",
            26,
            "a USSD session cannot wait",
        ),
        (
            "wait: {for: 2d, goto: check_in}",
            "wait: {for: 2 days, goto: check_in}",
            106,
            "a duration like",
        ),
        (
            "wait: {for: 2d, goto: check_in}",
            "wait: {goto: check_in}",
            106,
            "needs one of `for`",
        ),
        (
            "wait: {until: \"@results.visit\", goto: remind}",
            "wait: {until: \"@(results.visit +)\", goto: remind}",
            98,
            "not a valid expression",
        ),
        (
            "    channel: any\n",
            "    channel: any\n    chanel: sms\n",
            73,
            "unknown field `chanel`",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(from, to, line, reason)| refused(from, to, *line, reason))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn subflows_nest_at_most_five_deep() {
    let mut text = String::from("flows:\n");
    for i in 0..7 {
        let body = if i == 6 {
            "end: {text: done}".to_string()
        } else {
            format!("subflow: {{flow: f{}, then: b}}", i + 1)
        };
        text.push_str(&format!(
            "  f{i}:\n    start: a\n    nodes:\n      a:\n        {body}\n      b:\n        end: {{text: back}}\n"
        ));
    }
    let r = report(&text);
    let deep: Vec<&str> = r
        .errors
        .iter()
        .filter(|e| e.reason.contains("more than the 5 a run may"))
        .map(|e| e.reason.as_str())
        .collect();
    // f0 nests 6 deep, f1 5: only f0 is refused.
    assert_eq!(deep.len(), 1, "{:#?}", r.errors);
    assert!(deep[0].contains("nest 6 deep"), "{deep:?}");
}

#[test]
fn a_random_split_spreads_by_weight_and_a_seed_repeats_its_branch() {
    let text = ROUTING.replace(
        "- {weight: 1, goto: long, category: long}",
        "- {weight: 3, goto: long, category: long}",
    );
    let flows = seedgate_flowlang::load_str("routing.yaml", &text).unwrap();
    let contact = RunContact {
        msisdn: "+27820000001".into(),
        ..Default::default()
    };
    let now = chrono::Utc::now();
    let arm = |seed: u64| {
        let go = |state, input| step_seeded(&flows, "clinic", state, &contact, input, now, seed).unwrap();
        let out = go(None, Input::Start);
        let out = go(out.state, Input::Reply("1"));
        let out = go(out.state, Input::Reply("Thandi"));
        assert!(out.end);
        out.text.unwrap().contains("(long)")
    };
    let long = (0..400).filter(|s| arm(*s)).count();
    assert!(
        (240..360).contains(&long),
        "three in four take `long`: {long}/400"
    );
    assert_eq!(arm(42), arm(42));
}

#[test]
fn a_state_saved_before_subflows_still_loads_and_a_stack_round_trips() {
    let old = r#"{"flow":"clinic","node":"name","contact":{"msisdn":"+27820000001"},"results":{},
        "retries":0,"input":"","wait_until":null,"expires_at":null}"#;
    let state: RunState = serde_json::from_str(old).unwrap();
    assert!(state.stack.is_empty() && state.carry.is_none());
    assert!(
        !serde_json::to_string(&state).unwrap().contains("stack"),
        "an empty stack is not written"
    );

    let flows = seedgate_flowlang::load_str("routing.yaml", ROUTING).unwrap();
    let contact = RunContact::default();
    let now = chrono::Utc::now();
    let out = step_seeded(&flows, "clinic", None, &contact, Input::Start, now, 0).unwrap();
    let inside = out.state.unwrap();
    assert_eq!((inside.flow.as_str(), inside.node.as_str()), ("agree", "ask"));
    assert_eq!(inside.stack.len(), 1);
    let json = serde_json::to_string(&inside).unwrap();
    let back: RunState = serde_json::from_str(&json).unwrap();
    assert_eq!(back, inside);
    let out = step_seeded(&flows, "clinic", Some(back), &contact, Input::Reply("1"), now, 0).unwrap();
    let state = out.state.unwrap();
    assert_eq!((state.flow.as_str(), state.node.as_str()), ("clinic", "name"));
    assert!(state.stack.is_empty());
    assert_eq!(
        state.results["consent"].value, "yes",
        "the subflow's results stay"
    );
}

#[test]
fn path_slices_cost_each_end_of_the_clinic() {
    let flows = seedgate_flowlang::load_str("routing.yaml", ROUTING).unwrap();
    let costs = path_slices(&flows, "clinic", &Limits::default());
    let by_end: BTreeMap<&str, (usize, u64)> = costs
        .iter()
        .map(|c| (c.end.as_str(), (c.screens, c.slices)))
        .collect();
    // consent's menu (its end shows above `name`), name, the end screen.
    assert_eq!(by_end["long"], (3, 2));
    assert_eq!(by_end["bye"], (2, 1));
    assert_eq!(by_end["welcome_back"], (1, 1));
    let r = report(ROUTING);
    assert!(
        r.slices
            .iter()
            .any(|s| s.contains("flow `clinic`: longest path 3 screens")),
        "{:?}",
        r.slices
    );
    let json = serde_json::to_value(&costs).unwrap();
    assert_eq!(json[0]["end"], "bye");
    assert_eq!(json[0]["path"][0], "known");
}

#[test]
fn a_transcript_stubs_the_webhook_of_a_subflow() {
    let text = r#"
flows:
  main:
    start: call
    nodes:
      call:
        subflow: {flow: lookup, then: done}
      done:
        end: {text: "Clinic: @(json(results.clinic).name)"}
    tests:
      - name: the stub answers the subflow's webhook
        webhooks: {fetch: {status: 200, body: {name: Soweto}}}
        steps:
          - {dial: "*120#", expect: {continue: false, screen: "Clinic: Soweto"}}
  lookup:
    start: fetch
    nodes:
      fetch:
        webhook: {url: "http://x/clinic", timeout_ms: 1000, result: clinic, on_success: ok, on_failure: ok}
      ok:
        end: {}
"#;
    let r = report(text);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    let flows = seedgate_flowlang::load_str("routing.yaml", text).unwrap();
    let (ran, failures) = run_all(&flows);
    assert_eq!((ran, failures), (1, Vec::new()));
    let r = report(&text.replace("webhooks: {fetch:", "webhooks: {fetched:"));
    assert!(
        r.errors
            .iter()
            .any(|e| e.reason.contains("`fetched` is not a webhook node")),
        "{:#?}",
        r.errors
    );
}
