//! The reference text of a node or property, for hover: read from the book's reference
//! chapters themselves (compiled in), so the editor and the book say the same thing and
//! there is one text to keep true.

static STACK_FILE: &str = include_str!("../../../book/src/reference/stack-file.md");
static SERVICES: &str = include_str!("../../../book/src/reference/services.md");
static HEALTH: &str = include_str!("../../../book/src/reference/health.md");
static WATCH: &str = include_str!("../../../book/src/reference/watch.md");
static PROFILES: &str = include_str!("../../../book/src/reference/profiles.md");

/// The longest hover, in lines: the section's start, which says what the node is.
const MAX_LINES: usize = 40;

/// One heading's part of a chapter.
struct Section<'a> {
    level: usize,
    heading: &'a str,
    body: &'a str,
}

/// The sections of one of the chapters above, split once.
fn sections(chapter: &'static str) -> &'static [Section<'static>] {
    static SPLIT: std::sync::OnceLock<Vec<(usize, Vec<Section<'static>>)>> =
        std::sync::OnceLock::new();
    let all = SPLIT.get_or_init(|| {
        [STACK_FILE, SERVICES, HEALTH, WATCH, PROFILES]
            .into_iter()
            .map(|c| (c.as_ptr() as usize, split(c)))
            .collect()
    });
    all.iter()
        .find(|(at, _)| *at == chapter.as_ptr() as usize)
        .map_or(&[], |(_, s)| s.as_slice())
}

fn split(chapter: &str) -> Vec<Section<'_>> {
    let mut out: Vec<Section<'_>> = Vec::new();
    let mut starts: Vec<(usize, usize, &str)> = Vec::new();
    let mut offset = 0;
    let mut fenced = false;
    for line in chapter.split_inclusive('\n') {
        if line.starts_with("```") {
            fenced = !fenced;
        }
        let level = line.bytes().take_while(|b| *b == b'#').count();
        if !fenced && level > 0 && line.as_bytes().get(level) == Some(&b' ') {
            starts.push((offset, level, line[level..].trim()));
        }
        offset += line.len();
    }
    for (i, (start, level, heading)) in starts.iter().enumerate() {
        // A section runs to the next heading of its level or above.
        let end = starts[i + 1..]
            .iter()
            .find(|(_, l, _)| l <= level)
            .map_or(chapter.len(), |(o, _, _)| *o);
        out.push(Section {
            level: *level,
            heading,
            body: &chapter[*start..end],
        });
    }
    out
}

/// The heading names `name`: `## image`, `## limits and reservations`, `### exec`.
fn heading_names(heading: &str, name: &str) -> bool {
    heading
        .replace('`', "")
        .split(" and ")
        .flat_map(|part| part.split(", "))
        .any(|part| part.trim() == name)
}

/// The heading has `name` among its words: `## Choosing files: ignore and include`.
fn heading_mentions(heading: &str, name: &str) -> bool {
    heading
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .any(|word| word == name)
}

/// The chapters that describe the nodes at `path` (node names, outermost first, without
/// `profile`), most specific first.
fn chapters(path: &[&str]) -> Vec<&'static str> {
    match path {
        [] | [_] => vec![STACK_FILE, SERVICES, PROFILES],
        ["service", "health", ..] => vec![HEALTH, SERVICES],
        ["service", "watch", ..] => vec![WATCH, SERVICES],
        _ => vec![SERVICES, STACK_FILE],
    }
}

/// The cells of a table line.
fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split(" | ").map(str::trim).collect())
}

/// The first cell shows `name` (as a node or a property) in one of its code spans:
/// `` `name ...` ``, `` `name="..."` ``, `` `a N` / `name N` ``.
fn shows(cell: &str, name: &str) -> bool {
    cell.split('`').skip(1).step_by(2).any(|code| {
        code.strip_prefix(name)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '=', '"', '{']))
    })
}

/// A table row whose first cell shows `name`, as "`cell`: meaning (other column: value)".
fn row(body: &str, name: &str) -> Option<String> {
    let mut header: Vec<&str> = Vec::new();
    let mut previous: Option<Vec<&str>> = None;
    for line in body.lines() {
        let Some(cells) = cells(line) else {
            previous = None;
            continue;
        };
        if line
            .trim()
            .chars()
            .all(|ch| matches!(ch, '|' | '-' | ':' | ' '))
        {
            header = previous.take().unwrap_or_default();
            continue;
        }
        if cells.first().is_some_and(|first| shows(first, name)) {
            let meaning_at = header
                .iter()
                .position(|h| *h == "meaning")
                .unwrap_or(cells.len() - 1);
            let mut text = format!("{}: {}", cells[0], cells.get(meaning_at).unwrap_or(&""));
            let others: Vec<String> = cells
                .iter()
                .enumerate()
                .skip(1)
                .filter(|(i, c)| *i != meaning_at && !c.is_empty())
                .map(|(i, c)| format!("{}: {c}", header.get(i).unwrap_or(&"")))
                .collect();
            if !others.is_empty() {
                text.push_str(&format!(" ({})", others.join("; ")));
            }
            return Some(text);
        }
        previous = Some(cells);
    }
    None
}

fn clip(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let mut text = lines[..lines.len().min(MAX_LINES)].join("\n");
    // An example cut in half would leave its fence open.
    if text.matches("```").count() % 2 == 1 {
        text.push_str("\n```");
    }
    if lines.len() > MAX_LINES {
        text.push_str("\n\n(more in the book's reference)");
    }
    text.trim_end().to_string()
}

/// The section of the node at the end of `path`.
fn node_section(path: &[&str]) -> Option<&'static str> {
    let name = *path.last()?;
    if path == ["service"] {
        return sections(SERVICES).first().map(|s| s.body);
    }
    let parent = path.len().checked_sub(2).map(|i| path[i]);
    for chapter in chapters(path) {
        let all = sections(chapter);
        // Under the parent's own section first (`order` in `update and rollback`).
        let under_parent = parent.and_then(|p| {
            all.iter()
                .find(|s| heading_names(s.heading, p))
                .and_then(|ps| {
                    all.iter().find(|s| {
                        s.level > ps.level
                            && ps.body.contains(s.body)
                            && heading_names(s.heading, name)
                    })
                })
        });
        let found = under_parent
            .or_else(|| {
                all.iter()
                    .filter(|s| heading_names(s.heading, name))
                    .min_by_key(|s| s.level)
            })
            .or_else(|| {
                all.iter()
                    .filter(|s| s.level > 1 && heading_mentions(s.heading, name))
                    .min_by_key(|s| s.level)
            });
        if let Some(s) = found {
            return Some(s.body);
        }
    }
    None
}

/// `path` without the `profile` block around it: a node in a profile is described as it is
/// at the top level.
pub fn outside_profile<'a, 'b>(path: &'a [&'b str]) -> &'a [&'b str] {
    match path {
        ["profile", rest @ ..] if !rest.is_empty() => rest,
        _ => path,
    }
}

/// The reference text of the node at the end of `path` (node names from the top level,
/// `profile` left out), or of its property `prop`.
pub fn lookup(path: &[&str], prop: Option<&str>) -> Option<String> {
    let name = *path.last()?;
    let parent = path.len().checked_sub(2).map(|i| path[i]);
    match prop {
        None => node_section(path)
            .map(clip)
            .or_else(|| {
                // A node described by a row of its parent's table (`build`'s `arg`, the
                // container options, the probe timings).
                let parent_section = parent.and_then(|_| node_section(&path[..path.len() - 1]));
                parent_section
                    .and_then(|b| row(b, name))
                    .or_else(|| chapters(path).into_iter().find_map(|c| row(c, name)))
            })
            .or_else(|| {
                // Described with its parent (`gpu`'s `device-ids`, `ipam`'s `subnet`).
                let up = lookup(&path[..path.len() - 1], None)?;
                Some(format!("`{name}` is part of `{}`:\n\n{up}", parent?))
            }),
        Some(prop) => {
            let section = node_section(path)
                .or_else(|| parent.and_then(|_| node_section(&path[..path.len() - 1])));
            let Some(section) = section else {
                return lookup(path, None);
            };
            row(section, prop)
                .or_else(|| row(section, &format!("{name} {prop}")))
                .or_else(|| Some(clip(section)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackr_spec::schema::{Node, TOP};

    fn walk(nodes: &'static [Node], path: &mut Vec<&'static str>, missing: &mut Vec<String>) {
        for node in nodes {
            path.push(node.name);
            let at: Vec<&str> = path
                .iter()
                .filter(|p| **p != "profile" || path.len() == 1)
                .copied()
                .collect();
            if lookup(&at, None).is_none() {
                missing.push(format!("{at:?}"));
            }
            for p in node.props {
                if lookup(&at, Some(p.name)).is_none() {
                    missing.push(format!("{at:?} {}", p.name));
                }
            }
            if !(path.len() > 1 && path[0] == "profile") {
                walk(node.children, path, missing);
            }
            path.pop();
        }
    }

    #[test]
    fn every_node_of_the_language_has_reference_text() {
        let mut missing = Vec::new();
        walk(TOP, &mut Vec::new(), &mut missing);
        assert!(
            missing.is_empty(),
            "no reference text for:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn sections_rows_and_properties() {
        let image = lookup(&["service", "image"], None).unwrap_or_default();
        assert!(
            image.starts_with("## image\n\n`image \"NAME:TAG\"`"),
            "{image}"
        );
        let limits = lookup(&["service", "reservations"], None).unwrap_or_default();
        assert!(limits.starts_with("## limits and reservations"), "{limits}");
        let dns = lookup(&["service", "dns"], None).unwrap_or_default();
        assert_eq!(
            dns,
            "`dns \"IP\" ...`: DNS servers (IP addresses) (compose: `dns`)"
        );
        let interval = lookup(&["service", "health", "interval"], None).unwrap_or_default();
        assert!(
            interval.starts_with("`interval \"DURATION\"`: time between two checks"),
            "{interval}"
        );
        let condition = lookup(&["service", "depends-on"], Some("condition")).unwrap_or_default();
        assert!(
            condition.starts_with("`condition=\"started\"`"),
            "{condition}"
        );
        let exec = lookup(&["service", "health", "exec"], None).unwrap_or_default();
        assert!(exec.starts_with("### exec"), "{exec}");
    }
}
