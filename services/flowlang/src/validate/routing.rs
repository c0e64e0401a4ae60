//! The checks of the bodies that route without asking: a `subflow` runs a flow that exists,
//! on a channel it can run on, that never leads back to the caller (the run would never come
//! back) and nests at most [`MAX_SUBFLOW_DEPTH`] deep; a `random` split has weight; a `wait`
//! is in an SMS flow and says how long; a `group` split names each group once.

use std::collections::{HashMap, HashSet, VecDeque};

use super::Ctx;
use crate::interp::MAX_SUBFLOW_DEPTH;
use crate::load::Flows;
use crate::model::{Flow, FlowChannel, Node};

/// The flows `f` goes on to: (flow, whether it is a subflow call that comes back).
fn calls(f: &Flow) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    for node in f.nodes.values() {
        if let Some(s) = &node.subflow {
            out.push((s.flow.as_str(), true));
        }
        out.extend(
            node.exits()
                .into_iter()
                .filter_map(|t| t.strip_prefix("flow:"))
                .map(|t| (t, false)),
        );
    }
    out
}

/// The flows from `from` to `to` (both included), through subflows and `goto: flow:`.
fn route(flows: &Flows, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: HashMap<String, String> = HashMap::new();
    let mut todo = VecDeque::from([from.to_string()]);
    let mut seen = HashSet::from([from.to_string()]);
    while let Some(at) = todo.pop_front() {
        if at == to {
            let mut path = vec![at.clone()];
            let mut here = at;
            while let Some(prev) = came_from.get(&here) {
                path.push(prev.clone());
                here = prev.clone();
            }
            path.reverse();
            return Some(path);
        }
        for (next, _) in flows.get(&at).map(calls).unwrap_or_default() {
            if seen.insert(next.to_string()) {
                came_from.insert(next.to_string(), at.clone());
                todo.push_back(next.to_string());
            }
        }
    }
    None
}

/// How many subflows deep a run of `flow` can go (0 when it calls none).
fn depth(flows: &Flows, flow: &str, on_path: &mut Vec<String>, memo: &mut HashMap<String, usize>) -> usize {
    if let Some(d) = memo.get(flow) {
        return *d;
    }
    if on_path.iter().any(|p| p == flow) || on_path.len() > 4 * MAX_SUBFLOW_DEPTH {
        return 0;
    }
    on_path.push(flow.to_string());
    let d = flows
        .get(flow)
        .map(calls)
        .unwrap_or_default()
        .into_iter()
        .map(|(next, push)| usize::from(push) + depth(flows, next, on_path, memo))
        .max()
        .unwrap_or(0);
    on_path.pop();
    memo.insert(flow.to_string(), d);
    d
}

/// Whether a run of `flow` (or a flow it goes on to) stops for the user or the clock.
pub(super) fn pauses(flows: &Flows, flow: &str) -> bool {
    let mut seen = HashSet::new();
    let mut todo = vec![flow];
    while let Some(at) = todo.pop() {
        if !seen.insert(at) {
            continue;
        }
        let Some(f) = flows.get(at) else { continue };
        if f.nodes.values().any(Node::pauses) {
            return true;
        }
        todo.extend(calls(f).into_iter().map(|(n, _)| n));
    }
    false
}

/// Whether `node` is a webhook of `f` or of a flow `f` runs or goes on to (transcripts stub
/// webhooks by node name).
pub(super) fn has_webhook(flows: &Flows, f: &Flow, node: &str) -> bool {
    let mut seen = HashSet::new();
    let mut todo = vec![f];
    while let Some(at) = todo.pop() {
        if at.nodes.get(node).is_some_and(|n| n.webhook.is_some()) {
            return true;
        }
        for (next, _) in calls(at) {
            if seen.insert(next) {
                todo.extend(flows.get(next));
            }
        }
    }
    false
}

/// The checks of one node's routing body (`flow` is the flow `f`'s name).
pub(super) fn node(cx: &mut Ctx<'_>, flow: &str, f: &Flow, id: &str, node: &Node) {
    let np = format!("flows.{flow}.nodes.{id}");
    if let Some(s) = &node.subflow {
        subflow(cx, flow, f, id, &s.flow, &format!("{np}.subflow"));
    }
    if let Some(r) = &node.random {
        if r.branches.is_empty() {
            cx.error(
                &format!("{np}.random"),
                format!("random split `{id}` has no branches"),
            );
        } else if r.branches.iter().all(|b| b.weight == 0) {
            cx.error(
                &format!("{np}.random"),
                format!("random split `{id}`: every branch has weight 0, so none can be taken"),
            );
        }
    }
    if let Some(w) = &node.wait {
        let wp = format!("{np}.wait");
        match f.channel {
            FlowChannel::Ussd => cx.error(
                &wp,
                format!("node `{id}`: a USSD session cannot wait: `wait` is for SMS flows (`channel: sms`)"),
            ),
            FlowChannel::Any => cx.warn(
                &wp,
                format!("node `{id}` waits: on a USSD channel the session ends before the wait does"),
            ),
            FlowChannel::Sms => {}
        }
        match (&w.duration, &w.until) {
            (Some(d), None) if crate::model::parse_duration(d).is_none() => cx.error(
                &format!("{wp}.for"),
                format!("`for: {d}`: a duration like `30m`, `6h`, `2d`, `1w`"),
            ),
            (None, Some(e)) => {
                if let Err(err) = crate::expr::check(e) {
                    cx.error(&format!("{wp}.until"), err.to_string());
                }
            }
            (Some(_), None) => {}
            _ => cx.error(
                &wp,
                format!("wait `{id}` needs one of `for` (a duration) or `until` (a date and time)"),
            ),
        }
    }
    if let Some(g) = &node.group {
        if g.cases.is_empty() {
            cx.error(&format!("{np}.group"), format!("group split `{id}` has no cases"));
        }
        let mut names = HashSet::new();
        for (i, c) in g.cases.iter().enumerate() {
            if c.group.trim().is_empty() || !names.insert(c.group.as_str()) {
                cx.error(
                    &format!("{np}.group.cases.{i}.group"),
                    format!("group split `{id}` has an empty or repeated group `{}`", c.group),
                );
            }
        }
    }
}

fn subflow(cx: &mut Ctx<'_>, flow: &str, f: &Flow, id: &str, called: &str, path: &str) {
    let Some(child) = cx.flows.get(called) else {
        cx.error(
            &format!("{path}.flow"),
            format!("node `{id}` runs flow `{called}`, which does not exist"),
        );
        return;
    };
    match (f.channel, child.channel) {
        (FlowChannel::Ussd, FlowChannel::Sms) | (FlowChannel::Sms, FlowChannel::Ussd) => cx.error(
            &format!("{path}.flow"),
            format!(
                "node `{id}`: flow `{flow}` is {} and `{called}` is {}: a subflow runs on its caller's channel",
                channel(f.channel),
                channel(child.channel)
            ),
        ),
        _ => {}
    }
    if let Some(back) = route(cx.flows, called, flow) {
        cx.error(
            &format!("{path}.flow"),
            format!(
                "node `{id}` runs `{called}` as a subflow, and it leads back to `{flow}` ({flow} → {}): the run would never come back",
                back.join(" → ")
            ),
        );
        return;
    }
    let deep = 1 + depth(cx.flows, called, &mut Vec::new(), &mut HashMap::new());
    if deep > MAX_SUBFLOW_DEPTH {
        cx.error(
            &format!("{path}.flow"),
            format!("node `{id}`: subflows nest {deep} deep from here, more than the {MAX_SUBFLOW_DEPTH} a run may"),
        );
    }
}

fn channel(c: FlowChannel) -> &'static str {
    match c {
        FlowChannel::Ussd => "a USSD flow",
        FlowChannel::Sms => "an SMS flow",
        FlowChannel::Any => "for any channel",
    }
}
