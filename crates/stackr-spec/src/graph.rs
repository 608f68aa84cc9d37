//! The dependency graph of a stack as text, for `stackr graph`: the conditions on its edges and
//! the start order as waves, in a plain layout, Graphviz DOT or Mermaid.

use std::fmt::Write;

use crate::model::{NetworkMode, Stack};

/// The formats of the graph.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GraphFormat {
    Text,
    Dot,
    Mermaid,
}

/// One edge: `from` waits for `to`.
struct Edge<'a> {
    from: &'a str,
    to: &'a str,
    label: String,
    optional: bool,
}

fn edges(stack: &Stack) -> Vec<Edge<'_>> {
    let mut out = Vec::new();
    for s in stack.services.values() {
        for d in &s.depends_on {
            if !stack.services.contains_key(&d.service.value) {
                continue;
            }
            let mut label = d.condition.as_str().to_string();
            if d.restart {
                label.push_str(", restart");
            }
            if !d.required {
                label.push_str(", optional");
            }
            out.push(Edge {
                from: &s.name.value,
                to: &d.service.value,
                label,
                optional: !d.required,
            });
        }
        if let Some(m) = &s.network_mode
            && let NetworkMode::Service(other) = &m.value
            && !s.depends_on.iter().any(|d| d.service.value == *other)
        {
            out.push(Edge {
                from: &s.name.value,
                to: other,
                label: "started, network".into(),
                optional: false,
            });
        }
    }
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The graph in a format.
pub fn render(stack: &Stack, format: GraphFormat) -> String {
    let edges = edges(stack);
    let mut out = String::new();
    match format {
        GraphFormat::Text => {
            for (i, wave) in stack.waves.iter().enumerate() {
                let _ = writeln!(out, "wave {}: {}", i + 1, wave.join(", "));
            }
            let width = stack.services.keys().map(String::len).max().unwrap_or(0);
            if !edges.is_empty() {
                let _ = writeln!(out);
            }
            for wave in &stack.waves {
                for name in wave {
                    let deps: Vec<String> = edges
                        .iter()
                        .filter(|e| e.from == name)
                        .map(|e| format!("{} ({})", e.to, e.label))
                        .collect();
                    if !deps.is_empty() {
                        let _ = writeln!(out, "{name:width$}  waits for {}", deps.join(", "));
                    }
                }
            }
        }
        GraphFormat::Dot => {
            let _ = writeln!(out, "digraph {} {{", quote(&stack.name));
            let _ = writeln!(out, "  rankdir=LR;");
            let _ = writeln!(out, "  node [shape=box];");
            for (i, wave) in stack.waves.iter().enumerate() {
                let names: Vec<String> = wave.iter().map(|n| quote(n)).collect();
                let _ = writeln!(
                    out,
                    "  subgraph wave{} {{ rank=same; {}; }}",
                    i + 1,
                    names.join("; ")
                );
            }
            for e in &edges {
                let style = if e.optional { ", style=dashed" } else { "" };
                let _ = writeln!(
                    out,
                    "  {} -> {} [label={}{style}];",
                    quote(e.from),
                    quote(e.to),
                    quote(&e.label)
                );
            }
            let _ = writeln!(out, "}}");
        }
        GraphFormat::Mermaid => {
            let _ = writeln!(out, "graph LR");
            let id = |s: &str| s.replace(|c: char| !c.is_ascii_alphanumeric() && c != '_', "_");
            for name in stack.services.keys() {
                let _ = writeln!(out, "  {}[{}]", id(name), quote(name));
            }
            for e in &edges {
                let arrow = if e.optional { "-.->" } else { "-->" };
                let _ = writeln!(out, "  {} {arrow}|{}| {}", id(e.from), e.label, id(e.to));
            }
        }
    }
    out
}
