//! What the reconciler's tests share: a stack from text.

use std::collections::BTreeMap;

use stackr_spec::{Options, Stack, load_str};

/// The valid stack of `text` (read as `/srv/shop/stack.kdl`) with these profiles; a panic
/// listing the diagnostics otherwise.
pub fn stack_with(text: &str, profiles: &[&str]) -> Stack {
    let opts = Options {
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        vars: Some(BTreeMap::new()),
        ..Options::default()
    };
    let loaded = load_str("/srv/shop/stack.kdl", text, &opts);
    match loaded.stack {
        Some(s) => s,
        None => panic!(
            "{:?}",
            loaded
                .diagnostics
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
        ),
    }
}
