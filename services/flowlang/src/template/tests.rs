//! Compiled texts against the texts they were compiled from: a table of texts (every kind of
//! piece, every name, the function library, the subset evaluated without the VM and what is
//! just outside it, failures to split, compile and evaluate, `debug()`) rendered and
//! evaluated both ways over several scopes. The interpreter's tests use the same table
//! (`interp/vars.rs`).

use super::*;

/// Texts that exercise every kind of piece, every name, the function library, failures
/// to parse, compile and evaluate, and `debug()`.
pub(crate) const TEXTS: &[&str] = &[
    "",
    "plain text",
    "Hi @contact.name. Mail me@ x@@y @(a + (b))!",
    "@@",
    "@@@results.weeks@@",
    "@contact.name",
    "@contact.msisdn @contact.language @contact.groups @contact.fields.edd",
    "@(contact.groups|join(','))",
    "@(contact.fields|length) @(fields|length) @(results|length) @(categories|length)",
    "@fields.edd",
    "@fields.missing @fields.edd.x @fields.edd.x.y @fields.missing.x",
    "@results.weeks.x @results.missing.x @categories.registry @globals.missing",
    "@contact.fields.edd @contact.fields.missing @contact.nosuch @contact.groups.x",
    "@input.x @today.year @now.x.y",
    "@( results.weeks ) @(results.not) @(results.none) @(results.weeks.is)",
    "@(results._x) @(results.weeks2) @(contact . name)",
    "@results.weeks",
    "@results.missing",
    "@categories.weeks",
    "@globals.programme @globals.registry_url",
    "@input",
    "@today / @now",
    "@(title(contact.name))",
    "@(results.weeks|int + 1) weeks",
    "@(date_add(today, weeks=40 - results.weeks|int))",
    "@(weeks_between(today, fields.edd))",
    "@(format_date(fields.edd, '%d %B %Y'))",
    "@(json(results.registry).id)",
    "@(number(input))",
    "@(word(input, 2))",
    "@(parse_date(input))",
    "@(results.weeks|int > 20 and categories.weeks == 'valid')",
    "@(results)",
    "@(globals)",
    "@(contact)",
    "@(fields.items()|list)",
    "@(date_add('x', days=1))",
    "@(1 +)",
    "@(unclosed",
    "email@example.org, @ alone, end with @",
    "@nosuchname and @(nosuch.thing|default('d'))",
    "@(debug())",
    "@(range(3)|list)",
    "@(dict(a=1))",
    "@(upper(contact.name) ~ lower(globals.programme))",
    // The subset evaluated without the VM, and what is just outside it.
    "@(date_add(today, days=1, months=3)) @(date_add(fields.edd, days=results.weeks|int + 1))",
    "@(date_add(today, days=1, weeks=2, months=-1)) @(date_add(today, years=1))",
    "@(date_add(today)) @(date_add()) @(date_add(today, 5)) @(date_add(today, weeks=input))",
    "@(date_add(today, weeks=1, weeks=2)) @(date_add(today,)) @(date_add(weeks=1, today))",
    "@(date_add(today, days=1, weeks=results.missing.x)) @(date_add(results.missing.x, days=1))",
    "@( date_add( today , weeks = 2 ) ) @(date_add(today,weeks=2))",
    "@(date_add(today, months=results.weeks|int)) @(date_add(today, months=0 - 1))",
    "@(date_add(today, days='2')) @(date_add(input, days=1)) @(date_add(fields.edd))",
    "@(date_add(today, weeks=2, days=1, months=1)) @(date_add(today, days=1, x=2))",
    "@(json(results.registry).nosuch) @(json(results.weeks).id) @(json(input).id.x)",
    "@(json('{\"a\": {\"b\": 2}}').a.b) @(json('[1, 2]')) @(json(results.registry))",
    "@(json(results.registry).id|int) @(json) @(json(results.registry)(1))",
    "@(format_date(fields.edd)) @(format_date(results.weeks)) @(format_date(fields.edd, \"%A\"))",
    "@(format_date(today, 'week %W')) @(format_date(fields.missing, '%d'))",
    "@(weeks_between(today, fields.edd) + 1) @(days_between(fields.edd, today) - 3)",
    "@(results.weeks|int - results.weeks|int) @(results.weeks|int|int)",
    "@(results.weeks|int + 9223372036854775807) @(0 - 9223372036854775807 - 9)",
    "@(18446744073709551615 + 18446744073709551615) @(99999999999999999999999 + 1)",
    "@(1 + 2 - 3) @(1 - 2 - 3) @((1 + 2) - (3 + 4)) @((results.weeks|int)) @(((7)))",
    "@(input|int) @(results.missing|int) @(results|int) @(contact.groups|int) @(today|int)",
    "@(number(input) + 1) @(number('7.5') + 1) @(number('x')) @(number(results.weeks) - 1)",
    "@('a' + 'b') @(today + 1) @(1 + true) @(1 + none) @(1 + results.missing) @(1.5 + 1)",
    "@(word(input, results.weeks|int - 23)) @(word(input)) @(word(input, 'x')) @(word(1, 2))",
    "@(upper(globals.programme)) @(lower(contact.msisdn)) @(title(input)) @(upper())",
    "@(weekday(today)) @(weekday(fields.edd)) @(weekday(input)) @(parse_date('1 3 27'))",
    "@(results.weeks(1)) @(contact.name.upper()) @(results['weeks']) @(results.weeks.0)",
    "@(0x10 + 1) @(1_000 + 1) @(007 + 1) @(1e3) @('it''s') @(\"a\" \"b\") @(-1 + 2)",
    "@(results.weeks|int + 1|int) @(results.weeks|default(1)) @(results.weeks|int.x)",
];

/// Expressions the VM takes but the subset does not.
const OUTSIDE: &[&str] = &[
    "1.5 + 1",
    "-1",
    "results['weeks']",
    "results.weeks.0",
    "range(3)",
    "dict(a=1)",
    "debug()",
    "json",
    "json(x)(1)",
    "contact.name.upper()",
    "results.weeks|default(1)",
    "results.weeks|int(3)",
    "results.weeks|int.x",
    "date_add(today,)",
    "date_add(today, weeks=1, weeks=2)",
    "'it\\'s'",
    "1 if true else 2",
    "a and b",
    "1 * 2",
    "'a' ~ 'b'",
    "0x10",
    "1_000",
    "today == 'x'",
    "(1, 2)",
    "()",
    "\"a\" \"b\"",
];

pub(crate) fn scope() -> Scope {
    let mut s = Scope {
        today: "2026-12-02".into(),
        now: "2026-12-02T10:00:00+00:00".into(),
        input: "about 24 weeks, 17/03/2027".into(),
        ..Default::default()
    };
    s.contact.msisdn = "+27820000001".into();
    s.contact.name = "thandi nkosi".into();
    s.contact.language = "zul".into();
    s.contact.groups = vec!["mothers".into(), "registered".into()];
    for (k, v) in [("edd", "2027-03-17"), ("consent", "yes")] {
        s.fields.insert(k.into(), v.into());
        s.contact.fields.insert(k.into(), v.into());
    }
    for (k, v, c) in [
        ("weeks", "24", "valid"),
        ("registry", "{\"id\": \"REG-1\"}", "success"),
    ] {
        s.results.insert(k.into(), v.into());
        s.categories.insert(k.into(), c.into());
    }
    s.globals.insert("programme".into(), "MomConnect".into());
    s.globals
        .insert("registry_url".into(), "http://127.0.0.1/r".into());
    s
}

/// Names holding what expressions do not expect: text where numbers and dates go, numbers
/// at the ends of the integers.
pub(crate) fn odd_scope() -> Scope {
    let mut s = scope();
    s.input = "9223372036854775807".into();
    s.today = "not a date".into();
    s.results.insert("weeks".into(), "-9223372036854775808".into());
    s.results
        .insert("registry".into(), "{\"id\": 7, \"x\": [1]}".into());
    s.fields.insert("edd".into(), "2027-02-30".into());
    s.contact.name = String::new();
    s
}

#[test]
fn compiled_texts_render_as_the_text_does() {
    for s in [scope(), Scope::default(), odd_scope()] {
        for text in TEXTS {
            let t = Template::new(text);
            assert_eq!(t.render(&s), expr::render(text, &s), "render {text:?}");
            assert_eq!(t.value(&s), expr::value_of(text, &s), "value {text:?}");
            assert_eq!(t.text(), *text);
        }
    }
}

#[test]
fn an_expression_is_given_only_the_names_it_reads() {
    let needs = |src: &str| Compiled::new(src).needs;
    assert_eq!(needs("globals.programme"), Needs::Roots(Root::Globals.bit()));
    assert_eq!(
        needs("date_add(today, weeks=40 - results.weeks|int)"),
        Needs::Roots(Root::Today.bit() | Root::Results.bit())
    );
    assert_eq!(needs("1 + 2"), Needs::Roots(0));
    assert_eq!(needs("debug()"), Needs::Everything);
    assert_eq!(needs("1 +"), Needs::Roots(0));
    let path = |src: &str| Compiled::new(src).native.and_then(|n| n.path());
    assert_eq!(path("results.weeks"), Some((Root::Results, 1)));
    assert_eq!(path(" contact.fields.edd "), Some((Root::Contact, 2)));
    assert_eq!(path("input"), Some((Root::Input, 0)));
    assert_eq!(path("results.weeks|int"), None);
    assert_eq!(path("nosuch.name"), None);
    assert_eq!(path("results.0"), None);
    assert_eq!(path("results."), None);
}

/// Every expression of the table the subset takes evaluates there to the very value the VM
/// gives (kind and all), or is left to the VM.
#[test]
fn the_subset_gives_the_vms_values() {
    let mut taken = 0;
    for s in [scope(), Scope::default(), odd_scope()] {
        for text in TEXTS {
            let Ok(pieces) = expr::pieces(text) else { continue };
            for src in pieces.into_iter().filter_map(|p| match p {
                Piece::Expr(src) => Some(src),
                _ => None,
            }) {
                let Some(native) = Compiled::new(src).native else {
                    continue;
                };
                let Some(got) = native.eval(&s) else { continue };
                let want = expr::eval(src, &s).unwrap_or_else(|e| panic!("{src}: {e}"));
                assert_eq!(got, want, "{src}");
                assert_eq!(got.kind(), want.kind(), "{src}");
                assert_eq!(got.to_string(), want.to_string(), "{src}");
                assert_eq!(format!("{got:?}"), format!("{want:?}"), "{src}");
                taken += 1;
            }
        }
    }
    assert!(taken > 100, "the subset took {taken} evaluations");
    for src in [
        "date_add(today, weeks=40 - results.weeks|int)",
        "json(results.registry).id",
        "format_date(fields.edd, '%d %B %Y')",
        "( date_add( today , weeks = 2 ) )",
        "results.weeks|int + 1",
    ] {
        assert!(Compiled::new(src).native.is_some(), "{src}");
    }
    for src in OUTSIDE {
        assert!(Compiled::new(src).native.is_none(), "{src}");
    }
    for (src, direct) in [
        ("date_add(today, weeks=40 - results.weeks|int)", true),
        ("date_add(today)", true),
        ("date_add(today, months=1, days=2)", true),
        ("date_add(today, years=1)", false),
        ("date_add(today, 1)", false),
    ] {
        let native = Compiled::new(src).native;
        assert_eq!(matches!(native, Some(Native::DateAdd(..))), direct, "{src}");
    }
}
