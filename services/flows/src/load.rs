//! Loading and validating flow files. Every error names the file and, where it can, the line.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};

use crate::model::{Flow, FlowFile, Node};

/// A flow file that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {reason}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct FlowError {
    pub file: String,
    pub line: Option<usize>,
    pub reason: String,
}

/// Every loaded flow, by name, with the language of its file.
#[derive(Debug, Clone, Default)]
pub struct Flows {
    flows: BTreeMap<String, (Flow, String)>,
}

impl Flows {
    pub fn get(&self, name: &str) -> Option<&Flow> {
        self.flows.get(name).map(|(f, _)| f)
    }

    /// The base language of the file the flow came from.
    pub fn base_language(&self, name: &str) -> &str {
        self.flows.get(name).map_or("eng", |(_, l)| l.as_str())
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.flows.keys().map(String::as_str)
    }

    fn add(&mut self, file: &str, text: &str, parsed: FlowFile) -> Result<(), FlowError> {
        let base = parsed.languages.first().cloned().unwrap_or_else(|| "eng".into());
        for (name, flow) in parsed.flows {
            if self.flows.contains_key(&name) {
                return Err(FlowError {
                    file: file.into(),
                    line: line_of(text, &format!("{name}:")),
                    reason: format!("flow `{name}` is defined twice"),
                });
            }
            validate(file, text, &name, &flow)?;
            self.flows.insert(name, (flow, base.clone()));
        }
        Ok(())
    }
}

/// Parses and validates one file's text; `file` is the name used in errors.
pub fn load_str(file: &str, text: &str) -> Result<Flows, FlowError> {
    let mut flows = Flows::default();
    flows.add(file, text, parse(file, text)?)?;
    Ok(flows)
}

/// Loads every `*.yaml`/`*.yml` file of `dir`, in name order.
pub fn load_dir(dir: &Path) -> Result<Flows, FlowError> {
    let io_err = |path: &Path, e: std::io::Error| FlowError {
        file: path.display().to_string(),
        line: None,
        reason: e.to_string(),
    };
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    paths.sort();
    let mut flows = Flows::default();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|e| io_err(&path, e))?;
        let file = path.display().to_string();
        flows.add(&file, &text, parse(&file, &text)?)?;
    }
    Ok(flows)
}

fn parse(file: &str, text: &str) -> Result<FlowFile, FlowError> {
    serde_yaml_ng::from_str(text).map_err(|e| FlowError {
        file: file.into(),
        line: e.location().map(|l| l.line()),
        reason: e.to_string(),
    })
}

/// The 1-based line of the first line where `needle` stands on its own: not inside a longer
/// name (`goto: b` does not match `goto: bb`, `a:` does not match `data:`).
fn line_of(text: &str, needle: &str) -> Option<usize> {
    let is_name = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    text.lines()
        .position(|line| {
            line.match_indices(needle).any(|(i, _)| {
                let before = line[..i].chars().next_back();
                let after = line[i + needle.len()..].chars().next();
                !before.is_some_and(is_name) && !after.is_some_and(is_name)
            })
        })
        .map(|i| i + 1)
}

fn validate(file: &str, text: &str, name: &str, flow: &Flow) -> Result<(), FlowError> {
    let err = |needle: &str, reason: String| FlowError {
        file: file.into(),
        line: line_of(text, needle),
        reason: format!("flow `{name}`: {reason}"),
    };
    if !flow.nodes.contains_key(&flow.start) {
        return Err(err(
            "start:",
            format!("start node `{}` does not exist", flow.start),
        ));
    }
    for (id, node) in &flow.nodes {
        let at = format!("{id}:");
        let bodies = [node.menu.is_some(), node.end.is_some(), node.goto.is_some()];
        if bodies.iter().filter(|b| **b).count() != 1 {
            return Err(err(
                &at,
                format!("node `{id}` needs exactly one of `menu`, `end` or `goto`"),
            ));
        }
        let mut targets = Vec::new();
        if let Some(menu) = &node.menu {
            if menu.options.is_empty() {
                return Err(err(&at, format!("menu `{id}` has no options")));
            }
            let mut keys = HashSet::new();
            for opt in &menu.options {
                if opt.key.trim().is_empty() || !keys.insert(opt.key.trim()) {
                    return Err(err(
                        &at,
                        format!("menu `{id}` has an empty or repeated option key `{}`", opt.key),
                    ));
                }
                targets.push(opt.goto.as_str());
            }
        }
        if let Some(goto) = &node.goto {
            targets.push(goto);
        }
        for target in targets {
            if !flow.nodes.contains_key(target) {
                return Err(err(
                    &format!("goto: {target}"),
                    format!("node `{id}` goes to `{target}`, which does not exist"),
                ));
            }
        }
    }
    // Every node must be reachable from the start, and a chain of gotos must reach a screen.
    let mut seen = BTreeSet::new();
    let mut todo = vec![flow.start.as_str()];
    while let Some(id) = todo.pop() {
        if !seen.insert(id) {
            continue;
        }
        let node = &flow.nodes[id];
        todo.extend(
            node.menu
                .iter()
                .flat_map(|m| m.options.iter().map(|o| o.goto.as_str())),
        );
        todo.extend(node.goto.as_deref());
    }
    if let Some(orphan) = flow.nodes.keys().find(|k| !seen.contains(k.as_str())) {
        return Err(err(
            &format!("{orphan}:"),
            format!("node `{orphan}` cannot be reached from `{}`", flow.start),
        ));
    }
    for id in flow.nodes.keys() {
        let mut hops = HashSet::new();
        let mut at = id.as_str();
        while let Some(next) = flow.nodes.get(at).and_then(|n: &Node| n.goto.as_deref()) {
            if !hops.insert(at) {
                return Err(err(
                    &format!("{id}:"),
                    format!("node `{id}` loops through `goto`s without asking anything"),
                ));
            }
            at = next;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "flows:\n  f:\n    start: a\n    nodes:\n      a:\n        menu:\n          text: Hi\n          options:\n            - {key: \"1\", label: Go, goto: b}\n      b:\n        end: {text: Bye}\n";

    fn fails(text: &str) -> FlowError {
        load_str("f.yaml", text).unwrap_err()
    }

    #[test]
    fn a_valid_file_loads() {
        let flows = load_str("f.yaml", OK).unwrap();
        assert_eq!(flows.names().collect::<Vec<_>>(), vec!["f"]);
    }

    #[test]
    fn a_broken_goto_is_rejected_with_its_line() {
        let e = fails(&OK.replace("goto: b}", "goto: nowhere}"));
        assert_eq!(e.line, Some(9), "{e}");
        assert!(e.reason.contains("`nowhere`"), "{e}");
        assert!(e.to_string().starts_with("f.yaml:9: "), "{e}");
    }

    #[test]
    fn unknown_keys_are_rejected_with_their_line() {
        let e = fails(&OK.replace(
            "        end: {text: Bye}",
            "        end: {text: Bye}\n        colour: red",
        ));
        assert!(e.reason.contains("colour"), "{e}");
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn structural_mistakes_are_named() {
        let cases = [
            (OK.replace("start: a", "start: z"), "start node `z`"),
            (
                OK.replace(
                    "        end: {text: Bye}",
                    "        end: {text: Bye}\n        goto: a",
                ),
                "exactly one",
            ),
            (
                OK.replace(
                    "        end: {text: Bye}",
                    "        end: {text: Bye}\n      c:\n        end: {text: Lost}",
                ),
                "cannot be reached",
            ),
            (
                OK.replace(
                    "        end: {text: Bye}",
                    "        goto: c\n      c:\n        goto: b",
                ),
                "loops",
            ),
            (
                OK.replace(
                    "goto: b}",
                    "goto: b}\n            - {key: \"1\", label: Again, goto: b}",
                ),
                "repeated option key",
            ),
        ];
        for (text, want) in cases {
            let e = fails(&text);
            assert!(e.reason.contains(want), "want {want:?}, got {e}");
        }
    }

    #[test]
    fn yaml_syntax_errors_carry_the_line() {
        let e = fails("flows:\n  f:\n    start: [a\n");
        assert!(e.line.is_some(), "{e}");
    }
}
