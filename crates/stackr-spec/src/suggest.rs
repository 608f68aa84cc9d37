//! "Did you mean" suggestions.

/// Compose keys (and other habits) that have another name in stackr.
const ALIASES: &[(&str, &str)] = &[
    ("environment", "env"),
    ("healthcheck", "health"),
    ("volumes", "mount"),
    ("volume", "mount"),
    ("ports", "port"),
    ("depends_on", "depends-on"),
    ("depends", "depends-on"),
    ("container_name", "container-name"),
    ("env_file", "env-file"),
    ("working_dir", "working-dir"),
    ("workdir", "working-dir"),
    ("stop_grace_period", "stop-grace-period"),
    ("stop_signal", "stop-signal"),
    ("network_mode", "network-mode"),
    ("read_only", "read-only"),
    ("readonly", "read-only"),
    ("security_opt", "security-opt"),
    ("cap_add", "cap-add"),
    ("cap_drop", "cap-drop"),
    ("shm_size", "shm-size"),
    ("extra_hosts", "extra-hosts"),
    ("pull_policy", "pull-policy"),
    ("stdin_open", "stdin-open"),
    ("deploy", "limits"),
    ("resources", "limits"),
    ("mem_limit", "limits"),
    ("cpus", "limits"),
    ("develop", "watch"),
    ("test", "exec"),
    ("cmd", "exec"),
    ("start_period", "start-period"),
    ("start_interval", "start-interval"),
    ("label", "labels"),
    ("arg", "args"),
    ("alias", "aliases"),
    ("sysctl", "sysctls"),
    ("devices", "device"),
    ("secrets", "secret"),
    ("configs", "config"),
    ("ulimits", "ulimit"),
    ("services", "service"),
    ("name", "stack"),
    ("project", "stack"),
    (
        "x-",
        "(compose extension fields are not needed: KDL has no anchors to share)",
    ),
];

/// The closest candidate to `name`, if one is close enough to be a likely typo, or the stackr
/// name for a compose habit.
///
/// Past [`MAX_CANDIDATES`] there is no suggestion: comparing each of thousands of unknown
/// names with each of thousands of candidates would make `check` quadratic, and a stack that
/// large is generated, not typed.
pub fn did_you_mean<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    if candidates.len() > MAX_CANDIDATES {
        return None;
    }
    if let Some((_, to)) = ALIASES.iter().find(|(from, _)| *from == name)
        && let Some(c) = candidates.iter().find(|c| *c == to)
    {
        return Some(c);
    }
    let dashed = name.replace('_', "-");
    if let Some(c) = candidates.iter().find(|c| **c == dashed) {
        return Some(c);
    }
    let lower = name.to_ascii_lowercase();
    if let Some(c) = candidates.iter().find(|c| **c == lower) {
        return Some(c);
    }
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(name, c), *c))
        .filter(|(score, c)| *score >= 0.85 || strsim::osa_distance(name, c) <= 1)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The most candidates [`did_you_mean`] compares a name with.
pub const MAX_CANDIDATES: usize = 1000;

impl crate::diagnostic::Diagnostic {
    /// The did-you-mean of `name` among `candidates` as the diagnostic's fix, if there is one.
    pub(crate) fn with_suggestion(self, name: &str, candidates: &[&str]) -> Self {
        match did_you_mean(name, candidates) {
            Some(best) => self.with_fix(name, best),
            None => self,
        }
    }
}

/// The most names a help line lists.
const MAX_LISTED: usize = 20;

/// A help line: "did you mean `x`?" or the list of what is allowed (the language's own
/// keywords: a short list, given whole).
pub fn help_for(name: &str, candidates: &[&str], what: &str) -> Option<String> {
    if let Some(best) = did_you_mean(name, candidates) {
        return Some(format!("did you mean `{best}`?"));
    }
    if candidates.is_empty() {
        return None;
    }
    let list: Vec<String> = candidates.iter().map(|c| format!("`{c}`")).collect();
    Some(format!("{what}: {}", list.join(", ")))
}

/// Declared names as a help line lists them: quoted, at most [`MAX_LISTED`], then how many
/// more (a stack may declare thousands).
pub fn listed(names: &[&str]) -> String {
    let mut out: Vec<String> = names
        .iter()
        .take(MAX_LISTED)
        .map(|c| format!("`{c}`"))
        .collect();
    if names.len() > MAX_LISTED {
        out.push(format!("and {} more", names.len() - MAX_LISTED));
    }
    out.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Fix;

    /// The fix of each problem of `text`, as (code, from, to).
    fn fixes(text: &str) -> Vec<(&'static str, String, String)> {
        let loaded = crate::load_str("stack.kdl", text, &crate::Options::default());
        loaded
            .diagnostics
            .iter()
            .filter_map(|d| {
                let Fix { from, to } = d.fix.clone()?;
                Some((d.problem.code(), from, to))
            })
            .collect()
    }

    #[test]
    fn problems_with_one_fix_carry_it() {
        let fix = |c: &'static str, f: &str, t: &str| (c, f.to_string(), t.to_string());
        assert_eq!(
            fixes(
                "stack \"s\"\nservice \"a\" {\n    image \"x\"\n    init true\n    port 8080:80\n}\n"
            ),
            [
                fix("syntax", "true", "#true"),
                fix("syntax", "8080:80", "\"8080:80\"")
            ]
        );
        assert_eq!(
            fixes(
                "stack \"s\"\ntarget \"swarn\"\nservice \"a\" {\n    imag \"x\"\n    depends-on \"b\" conditon=\"healthy\"\n}\nservice \"bb\" {\n    image \"x\"\n}\n"
            ),
            [
                fix("invalid-value", "swarn", "swarm"),
                fix("unknown-node", "imag", "image"),
                fix("unknown-reference", "b", "bb"),
                fix("unknown-property", "conditon", "condition"),
            ]
        );
        // A reference: the name inside the string becomes the declared one.
        assert_eq!(
            fixes(
                "stack \"s\"\nservice \"a\" {\n    image \"x\"\n    depends-on \"dbb\"\n}\nservice \"db\" {\n    image \"x\"\n}\n"
            ),
            [fix("unknown-reference", "dbb", "db")]
        );
    }

    #[test]
    fn suggestions() {
        assert_eq!(did_you_mean("imag", &["image", "build"]), Some("image"));
        assert_eq!(did_you_mean("environment", &["env", "image"]), Some("env"));
        assert_eq!(
            did_you_mean("container_name", &["container-name"]),
            Some("container-name")
        );
        assert_eq!(did_you_mean("zzz", &["image", "build"]), None);
        assert_eq!(did_you_mean("dve", &["dev", "prod"]), Some("dev"));
    }
}
