//! The validator, as data: a valid file, and one mistake at a time with the line and reason
//! it must be reported with.

#![allow(clippy::unwrap_used)] // tests: panics are failures

use seedgate_flowlang::load::{check, Source};
use seedgate_flowlang::validate::{Limits, Report};

const OK: &str = r#"languages: [eng, zul]
flows:
  f:
    start: a
    nodes:
      a:
        menu:
          text: {eng: "Hi @contact.name", zul: "Sawubona"}
          options:
            - {key: "1", label: {eng: Go, zul: Hamba}, goto: b}
            - {key: "2", label: {eng: Ask, zul: Buza}, goto: q}
      q:
        ask:
          text: {eng: "How old?", zul: "Mingaki iminyaka?"}
          result: age
          validate: {test: has_number_between, args: [10, 60], error: {eng: No, zul: Cha}, on_fail: b}
          goto: hook
      hook:
        actions:
          - set_field: {name: age, value: "@results.age"}
          - subscribe: s
        webhook: {url: "http://x/@results.age", timeout_ms: 1000, on_success: b, on_failure: b}
      b:
        end: {text: {eng: Bye, zul: Sala kahle}}
message_sets:
  s:
    channel: demo-sms
    anchor: edd
    window: {timezone: Africa/Johannesburg}
    messages:
      - {offset: "-2w", text: {eng: one, zul: kunye}}
"#;

fn report(text: &str) -> Report {
    check(
        &[Source {
            path: "f.yaml".into(),
            text: text.into(),
        }],
        &Limits::default(),
    )
    .1
}

/// `text` with `from` replaced by `to` must report an error containing `reason` at `line`;
/// what is wrong, if anything.
fn fails(from: &str, to: &str, line: Option<usize>, reason: &str) -> Option<String> {
    assert!(OK.contains(from), "the base file has no {from:?}");
    let r = report(&OK.replacen(from, to, 1));
    let Some(e) = r.errors.iter().find(|e| e.reason.contains(reason)) else {
        return Some(format!(
            "replacing {from:?} by {to:?}: no error with {reason:?} in {:#?}",
            r.errors
        ));
    };
    (line.is_some() && e.line != line).then(|| format!("{e}: expected line {line:?}"))
}

#[test]
fn the_base_file_is_valid_and_its_slices_are_reported() {
    let r = report(OK);
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert!(r.warnings.is_empty(), "{:#?}", r.warnings);
    assert_eq!(r.slices.len(), 1);
    assert!(r.slices[0].contains("longest path 3 screens"), "{}", r.slices[0]);
}

#[test]
fn each_mistake_is_named_with_its_line() {
    let cases: &[(&str, &str, Option<usize>, &str)] = &[
        (
            "goto: b}",
            "goto: nowhere}",
            Some(10),
            "goes to `nowhere`, which does not exist",
        ),
        ("goto: hook", "goto: flow:other", Some(17), "goes to flow `other`"),
        ("start: a", "start: z", Some(4), "start node `z` does not exist"),
        (
            "        end: {text: {eng: Bye, zul: Sala kahle}}",
            "        end: {text: {eng: Bye, zul: Sala kahle}}\n        colour: red",
            Some(25),
            "unknown field `colour`",
        ),
        ("    start: a\n", "    start: [a\n", None, ""),
        (
            "      b:\n        end:",
            "      b:\n        goto: a\n        end:",
            Some(23),
            "exactly one of menu, ask, switch, webhook, end, subflow, random, wait, group or goto (has end, goto)",
        ),
        (
            "      b:\n",
            "      lost:\n        end: {text: {eng: x, zul: y}}\n      b:\n",
            Some(23),
            "node `lost` cannot be reached",
        ),
        (
            "{eng: Bye, zul: Sala kahle}",
            "{eng: Bye}",
            Some(24),
            "has no translation in zul",
        ),
        (
            "{eng: Bye, zul: Sala kahle}",
            "{eng: Bye, zul: x, sot: y}",
            None,
            "`sot`, which is not in the file's `languages`",
        ),
        (
            "\"Hi @contact.name\"",
            &format!("\"{}\"", "x".repeat(190)),
            Some(7),
            "over the 182 a USSD screen shows",
        ),
        ("timeout_ms: 1000, ", "", Some(22), "has no `timeout_ms`"),
        (
            "has_number_between, args: [10, 60]",
            "has_numbr",
            Some(16),
            "unknown test `has_numbr`",
        ),
        ("args: [10, 60]", "args: [10]", Some(16), "takes 2 argument(s)"),
        (
            "\"Hi @contact.name\"",
            "\"Hi @(contact.name +)\"",
            Some(8),
            "not a valid expression",
        ),
        (
            "          goto: hook",
            "          goto: hook\n          timeout: {after: 1h, goto: b}",
            None,
            "a USSD session cannot wait",
        ),
        (
            "- subscribe: s",
            "- subscribe: nope",
            Some(21),
            "no message set `nope`",
        ),
        (
            "- subscribe: s",
            "- set_language: fra",
            Some(21),
            "`fra` is not one of the file's languages",
        ),
        (
            "- subscribe: s",
            "- sett_field: x",
            Some(19),
            "unknown variant `sett_field`",
        ),
        (
            "offset: \"-2w\"",
            "offset: \"two weeks\"",
            Some(31),
            "is not like `-36w`",
        ),
        (
            "timezone: Africa/Johannesburg",
            "timezone: Mars/Olympus",
            Some(29),
            "is not a time zone",
        ),
        (
            "window: {timezone: Africa/Johannesburg}",
            "window: {from: '18:00', until: '09:00'}",
            None,
            "`from` must be before its `until`",
        ),
        (
            "    messages:",
            "    on_complete: {next: more}\n    messages:",
            None,
            "no message set `more`",
        ),
        (
            "languages: [eng, zul]",
            "languages: [english]",
            Some(1),
            "not an ISO 639-3 code",
        ),
    ];
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|(from, to, line, reason)| fails(from, to, *line, reason))
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn loops_without_input_are_refused() {
    let text = OK.replace(
        "      b:\n        end: {text: {eng: Bye, zul: Sala kahle}}",
        "      b:\n        goto: c\n      c:\n        switch: {on: \"@results.age\", cases: [{test: has_text, goto: b}], other: b}",
    );
    let r = report(&text);
    assert!(
        r.errors
            .iter()
            .any(|e| e.reason.contains("loop without asking anything")),
        "{:#?}",
        r.errors
    );
}

#[test]
fn slow_webhooks_and_long_flows_are_warned_about() {
    let r = report(&OK.replace("timeout_ms: 1000", "timeout_ms: 3500"));
    assert!(r.errors.is_empty(), "{:#?}", r.errors);
    assert!(
        r.warnings
            .iter()
            .any(|w| w.reason.contains("may take 3500 ms of a 4000 ms hop deadline")),
        "{:#?}",
        r.warnings
    );
    let r = report(&OK.replace("    start: a\n", "    start: a\n    budget_secs: 20\n"));
    assert!(
        r.warnings
            .iter()
            .any(|w| w.reason.contains("longer than the 20 s session budget")),
        "{:#?}",
        r.warnings
    );
}

#[test]
fn every_error_is_reported_not_just_the_first() {
    let text = OK
        .replacen("goto: b}", "goto: x}", 1)
        .replace("timeout_ms: 1000, ", "");
    let r = report(&text);
    assert!(r.errors.len() >= 2, "{:#?}", r.errors);
    assert!(
        r.errors.iter().all(|e| e.to_string().starts_with("f.yaml:")),
        "{:#?}",
        r.errors
    );
}
