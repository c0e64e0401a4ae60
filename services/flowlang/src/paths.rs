//! Paths through a flow and what a USSD session on them is expected to cost: screens, seconds
//! at [`Limits::hop_secs`] a screen, and 20 s billing slices. The validator's one-line
//! estimate (its longest path) and the studio's figure per end node come from the same walk.
//!
//! A screen is a node that waits for the user (`menu`, `ask`) or an `end`; an `end` inside a
//! subflow shows above the caller's next screen, so it counts none. A `subflow` node counts
//! the screens of the longest path of the flow it runs. The walk follows simple paths (no node
//! twice) and gives up after [`WALK_BUDGET`] node visits, so a huge graph cannot stall it.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::interp::MAX_SUBFLOW_DEPTH;
use crate::load::Flows;
use crate::model::Flow;
use crate::validate::Limits;

/// Node visits one walk makes at most.
pub const WALK_BUDGET: usize = 200_000;

/// The expected cost of the longest path from a flow's start to one place it stops.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathCost {
    /// The node the path stops at: an `end`, a question with nowhere to go, or a node that
    /// goes on to another flow (`goto: flow:…`).
    pub end: String,
    pub screens: usize,
    pub secs: u64,
    pub slices: u64,
    /// The nodes, from the start to `end`.
    pub path: Vec<String>,
}

/// Seconds and 20 s billing slices (at least one) a path of `screens` is expected to take.
pub fn cost(screens: usize, limits: &Limits) -> (u64, u64) {
    let secs = screens as u64 * limits.hop_secs;
    (secs, secs.div_ceil(seedgate_proto::SLICE_SECS).max(1))
}

/// The screens on the longest path of `f` from its start.
pub fn longest(flows: &Flows, f: &Flow) -> usize {
    let mut walk = Walk::new(flows, f, 0);
    walk.visit(&f.start);
    walk.best
}

/// For each place a path from `flow`'s start stops, its longest path and what it costs,
/// ordered by the node it stops at. Empty for an unknown flow.
pub fn path_slices(flows: &Flows, flow: &str, limits: &Limits) -> Vec<PathCost> {
    let Some(f) = flows.get(flow) else {
        return Vec::new();
    };
    let mut walk = Walk::new(flows, f, 0);
    walk.record = true;
    walk.visit(&f.start);
    walk.ends
        .into_iter()
        .map(|(end, (screens, path))| {
            let (secs, slices) = cost(screens, limits);
            PathCost {
                end,
                screens,
                secs,
                slices,
                path,
            }
        })
        .collect()
}

struct Walk<'a> {
    flows: &'a Flows,
    flow: &'a Flow,
    /// Subflows deep: 0 for the flow asked about.
    depth: usize,
    budget: usize,
    path: Vec<&'a str>,
    screens: usize,
    best: usize,
    /// Whether to keep the best path to each stop (the studio's figures).
    record: bool,
    ends: BTreeMap<String, (usize, Vec<String>)>,
}

impl<'a> Walk<'a> {
    fn new(flows: &'a Flows, flow: &'a Flow, depth: usize) -> Self {
        Self {
            flows,
            flow,
            depth,
            budget: WALK_BUDGET,
            path: Vec::new(),
            screens: 0,
            best: 0,
            record: false,
            ends: BTreeMap::new(),
        }
    }

    /// Screens the node `id` shows.
    fn screens_at(&self, id: &str) -> usize {
        let Some(node) = self.flow.nodes.get(id) else {
            return 0;
        };
        if node.waits() || (node.end.is_some() && self.depth == 0) {
            return 1;
        }
        match (&node.subflow, self.depth < MAX_SUBFLOW_DEPTH) {
            (Some(sub), true) => self.flows.get(&sub.flow).map_or(0, |child| {
                let mut walk = Walk::new(self.flows, child, self.depth + 1);
                walk.visit(&child.start);
                walk.best
            }),
            _ => 0,
        }
    }

    fn visit(&mut self, id: &'a str) {
        if self.budget == 0 || self.path.contains(&id) {
            return;
        }
        self.budget -= 1;
        let Some(node) = self.flow.nodes.get(id) else {
            return;
        };
        let here = self.screens_at(id);
        self.path.push(id);
        self.screens += here;
        self.best = self.best.max(self.screens);
        let exits = node.exits();
        let stops = exits.is_empty() || exits.iter().any(|t| t.starts_with("flow:"));
        if self.record && stops && self.ends.get(id).is_none_or(|(s, _)| self.screens > *s) {
            let path = self.path.iter().map(|p| (*p).to_string()).collect();
            self.ends.insert(id.to_string(), (self.screens, path));
        }
        for next in exits.into_iter().filter(|t| !t.starts_with("flow:")) {
            self.visit(next);
        }
        self.screens -= here;
        self.path.pop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLOWS: &str = r#"
flows:
  main:
    start: hi
    nodes:
      hi:
        menu:
          text: Hi
          options:
            - {key: "1", label: Short, goto: bye}
            - {key: "2", label: Long, goto: consent}
            - {key: "3", label: Elsewhere, goto: flow:other}
      consent:
        subflow: {flow: agree, then: name}
      name:
        ask: {text: "Your name?", goto: thanks}
      thanks:
        end: {text: Thanks}
      bye:
        end: {text: Bye}
  agree:
    start: q
    nodes:
      q:
        menu:
          text: Agree?
          options:
            - {key: "1", label: Yes, goto: fine}
      fine:
        end: {text: Agreed}
  other:
    start: o
    nodes:
      o:
        end: {text: Other}
"#;

    #[test]
    fn each_stop_gets_its_longest_path_and_the_longest_is_the_validators() {
        let flows = crate::load_str("f.yaml", FLOWS).unwrap();
        let limits = Limits::default();
        let costs = path_slices(&flows, "main", &limits);
        let by_end: BTreeMap<&str, &PathCost> = costs.iter().map(|c| (c.end.as_str(), c)).collect();
        assert_eq!(
            by_end.keys().copied().collect::<Vec<_>>(),
            ["bye", "hi", "thanks"]
        );
        let thanks = by_end["thanks"];
        // hi, the subflow's one menu (its end shows above `name`), name, thanks.
        assert_eq!(thanks.screens, 4);
        assert_eq!(thanks.path, ["hi", "consent", "name", "thanks"]);
        assert_eq!((thanks.secs, thanks.slices), (40, 2));
        assert_eq!((by_end["bye"].screens, by_end["bye"].slices), (2, 1));
        assert_eq!(by_end["hi"].screens, 1, "`hi` goes on to flow `other` from here");
        let main = flows.get("main").unwrap();
        assert_eq!(
            longest(&flows, main),
            costs.iter().map(|c| c.screens).max().unwrap()
        );
        assert!(path_slices(&flows, "nope", &limits).is_empty());
        let json = serde_json::to_value(thanks).unwrap();
        assert_eq!(json["slices"], 2);
    }
}
