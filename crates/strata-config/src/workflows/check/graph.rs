//! Checks of the step graph: `needs` is acyclic, every cycle of routing (`next`, `catch`,
//! `choice`, and `needs` read as "dependency then dependent") has a step with `max_visits`,
//! some step can start the run, and no two steps that may run at once write the same
//! `replace` state key.

use std::collections::{HashMap, HashSet, VecDeque};

use super::values::is_state_path;
use super::{indexed, path, step_path};
use crate::model::{Reducer, Workflow};
use crate::validate::Report;
use crate::yaml::Seg;

/// An edge to step `to`, written at `at`.
#[derive(Clone)]
struct Edge {
    to: usize,
    at: Vec<Seg>,
    /// A `next`/`catch`/`choice` edge (not a reversed `needs` edge).
    routing: bool,
}

/// The steps (by index, in name order) and their edges to known steps.
struct Graph<'w> {
    names: Vec<&'w str>,
    /// `a needs b`: a → b.
    needs: Vec<Vec<Edge>>,
    /// Routing edges and reversed `needs` edges (b → a for `a needs b`).
    flow: Vec<Vec<Edge>>,
    /// Whether the step is reached through `next`, `catch`, `choice` or `compensate`.
    routed: Vec<bool>,
}

pub(super) fn check(report: &mut Report<'_>, workflow: &Workflow) {
    let graph = Graph::new(workflow);
    let needs_cycles = needs_cycles(report, &graph);
    routing_cycles(report, workflow, &graph);
    // Needs that name no step (or the step itself) are reported on their own: they do not
    // count here, so one mistake gives one error.
    let starts = graph
        .needs
        .iter()
        .zip(&graph.routed)
        .any(|(needs, routed)| needs.is_empty() && !routed);
    if !starts && !needs_cycles && !workflow.steps.is_empty() {
        report.at(
            &[super::key("steps")],
            "no step can start the run: every step needs another one or is reached only \
             through next, catch, choice or compensate",
        );
    }
    writers(report, workflow, &graph);
}

impl<'w> Graph<'w> {
    fn new(workflow: &'w Workflow) -> Self {
        let names: Vec<&str> = workflow.steps.keys().map(String::as_str).collect();
        let index: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let n = names.len();
        let mut graph = Graph {
            names,
            needs: vec![Vec::new(); n],
            flow: vec![Vec::new(); n],
            routed: vec![false; n],
        };
        for (from, (name, step)) in workflow.steps.iter().enumerate() {
            let at = step_path(name);
            for (j, need) in step.needs.iter().enumerate() {
                let Some(&to) = index.get(need.as_str()) else {
                    continue;
                };
                if to == from {
                    continue; // reported as "cannot need itself"
                }
                let mut p = path(&at, &["needs"]);
                p.push(Seg::Index(j));
                graph.needs[from].push(Edge {
                    to,
                    at: p.clone(),
                    routing: false,
                });
                graph.flow[to].push(Edge {
                    to: from,
                    at: p,
                    routing: false,
                });
            }
            let mut routes: Vec<(&str, Vec<Seg>)> = Vec::new();
            if let Some(next) = &step.next {
                routes.push((next, path(&at, &["next"])));
            }
            for (i, rule) in step.catch.iter().enumerate() {
                routes.push((&rule.next, indexed(&at, "catch", i, "next")));
            }
            for (i, rule) in step.choice.iter().flatten().enumerate() {
                if let Some(next) = &rule.next {
                    routes.push((next, indexed(&at, "choice", i, "next")));
                }
                if let Some(default) = &rule.default {
                    routes.push((default, indexed(&at, "choice", i, "default")));
                }
            }
            for (target, p) in routes {
                if let Some(&to) = index.get(target) {
                    graph.routed[to] = true;
                    graph.flow[from].push(Edge {
                        to,
                        at: p,
                        routing: true,
                    });
                }
            }
            if let Some(&to) = step.compensate.as_deref().and_then(|c| index.get(c)) {
                graph.routed[to] = true;
            }
        }
        graph
    }

    /// `a → b → a`.
    fn show(&self, cycle: &[usize]) -> String {
        let names: Vec<&str> = cycle.iter().map(|i| self.names[*i]).collect();
        names.join(" → ")
    }
}

/// Reports one cycle per strongly connected group of `needs`. Returns whether any was found.
fn needs_cycles(report: &mut Report<'_>, graph: &Graph<'_>) -> bool {
    let all = vec![true; graph.names.len()];
    let mut found = false;
    for group in components(&graph.needs, &all) {
        let member = membership(&group, graph.names.len());
        let start = group[0];
        let Some(edge) = graph.needs[start].iter().find(|e| member[e.to]) else {
            continue;
        };
        let mut cycle = vec![start];
        cycle.extend(shortest_path(&graph.needs, &member, edge.to, start));
        report.at(&edge.at, format!("cycle in needs: {}", graph.show(&cycle)));
        found = true;
    }
    found
}

/// Reports every group of steps without `max_visits` that routing can go round forever.
fn routing_cycles(report: &mut Report<'_>, workflow: &Workflow, graph: &Graph<'_>) {
    let unbounded: Vec<bool> = workflow
        .steps
        .values()
        .map(|s| s.max_visits.is_none())
        .collect();
    for group in components(&graph.flow, &unbounded) {
        let member = membership(&group, graph.names.len());
        // A cycle made only of `needs` edges is reported as a needs cycle.
        let routing = group.iter().find_map(|&from| {
            graph.flow[from]
                .iter()
                .find(|e| e.routing && member[e.to])
                .map(|e| (from, e))
        });
        let Some((from, edge)) = routing else {
            continue;
        };
        let mut cycle = vec![from];
        if edge.to != from {
            cycle.extend(shortest_path(&graph.flow, &member, edge.to, from));
        } else {
            cycle.push(from);
        }
        report.at(
            &edge.at,
            format!(
                "cycle {} has no step with max_visits; set max_visits on one of them",
                graph.show(&cycle)
            ),
        );
    }
}

/// Two steps started by `needs` that neither orders must not both write a `replace` key.
fn writers(report: &mut Report<'_>, workflow: &Workflow, graph: &Graph<'_>) {
    // (index, state key) of every step started by `needs` that writes a replace key.
    let mut candidates: Vec<(usize, &str)> = Vec::new();
    for (i, step) in workflow.steps.values().enumerate() {
        let Some(output) = step.output.as_deref() else {
            continue;
        };
        if graph.routed[i] || !is_state_path(output) {
            continue;
        }
        let state_key = output.split('.').next().unwrap_or(output);
        let reducer = workflow
            .state
            .get(state_key)
            .map_or(Reducer::Replace, |k| k.reducer);
        if reducer == Reducer::Replace {
            candidates.push((i, state_key));
        }
    }
    let ancestors: HashMap<usize, HashSet<usize>> = candidates
        .iter()
        .map(|(i, _)| (*i, ancestors(&graph.needs, *i)))
        .collect();
    let before = |a: usize, b: usize| ancestors.get(&b).is_some_and(|set| set.contains(&a));
    for (n, (second, key)) in candidates.iter().enumerate() {
        let clash = candidates[..n]
            .iter()
            .find(|(first, k)| k == key && !before(*first, *second) && !before(*second, *first));
        if let Some((first, _)) = clash {
            let (a, b) = (graph.names[*first], graph.names[*second]);
            report.at(
                &path(&step_path(b), &["output"]),
                format!(
                    "steps `{a}` and `{b}` may run at the same time and both write the replace \
                     key `{key}`; give `{key}` a reducer (append, merge, add) or order them with needs"
                ),
            );
        }
    }
}

/// Every step `start` transitively needs.
fn ancestors(needs: &[Vec<Edge>], start: usize) -> HashSet<usize> {
    let mut seen = HashSet::new();
    let mut stack = vec![start];
    while let Some(at) = stack.pop() {
        for edge in &needs[at] {
            if seen.insert(edge.to) {
                stack.push(edge.to);
            }
        }
    }
    seen
}

fn membership(group: &[usize], n: usize) -> Vec<bool> {
    let mut member = vec![false; n];
    for i in group {
        member[*i] = true;
    }
    member
}

/// The steps after `from` on a shortest path from `from` to `to` inside `member`, `to`
/// included (empty when there is none).
fn shortest_path(edges: &[Vec<Edge>], member: &[bool], from: usize, to: usize) -> Vec<usize> {
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = VecDeque::from([from]);
    let mut seen = HashSet::from([from]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            let mut path = vec![at];
            let mut cur = at;
            while let Some(prev) = came_from.get(&cur) {
                path.push(*prev);
                cur = *prev;
            }
            path.reverse();
            return path;
        }
        for edge in &edges[at] {
            if member[edge.to] && seen.insert(edge.to) {
                came_from.insert(edge.to, at);
                queue.push_back(edge.to);
            }
        }
    }
    Vec::new()
}

/// The strongly connected groups (Tarjan) among the nodes where `keep` holds that contain a
/// cycle: more than one node, or one node with an edge to itself. Each group is sorted, and
/// groups come in the order of their smallest node.
fn components(edges: &[Vec<Edge>], keep: &[bool]) -> Vec<Vec<usize>> {
    struct Tarjan<'e> {
        edges: &'e [Vec<Edge>],
        keep: &'e [bool],
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        next: usize,
        groups: Vec<Vec<usize>>,
    }
    impl Tarjan<'_> {
        fn visit(&mut self, v: usize) {
            self.index[v] = Some(self.next);
            self.low[v] = self.next;
            self.next += 1;
            self.stack.push(v);
            self.on_stack[v] = true;
            for w in self.edges[v].iter().map(|e| e.to) {
                if !self.keep[w] {
                    continue;
                }
                match self.index[w] {
                    None => {
                        self.visit(w);
                        self.low[v] = self.low[v].min(self.low[w]);
                    }
                    Some(iw) if self.on_stack[w] => self.low[v] = self.low[v].min(iw),
                    Some(_) => {}
                }
            }
            if Some(self.low[v]) == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack[w] = false;
                    group.push(w);
                    if w == v {
                        break;
                    }
                }
                let looped = group.len() > 1 || self.edges[v].iter().any(|e| e.to == v);
                if looped {
                    group.sort_unstable();
                    self.groups.push(group);
                }
            }
        }
    }
    let n = edges.len();
    let mut t = Tarjan {
        edges,
        keep,
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        next: 0,
        groups: Vec::new(),
    };
    for (v, kept) in keep.iter().enumerate() {
        if *kept && t.index[v].is_none() {
            t.visit(v);
        }
    }
    t.groups.sort_unstable_by_key(|g| g[0]);
    t.groups
}
