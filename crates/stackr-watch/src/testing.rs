//! Test helpers: stacks written to a temporary folder and loaded from disk.

use std::path::Path;

use stackr_spec::Stack;

use crate::rules::Rules;

struct Disk;

impl stackr_spec::FileReader for Disk {
    fn read(&self, path: &Path) -> Result<Vec<u8>, stackr_spec::ReadError> {
        Ok(std::fs::read(path)?)
    }
}

/// Writes `stack "t"` and `body` to `dir/stack.kdl` and loads it; panics when it is invalid.
pub fn stack(dir: &Path, body: &str) -> Stack {
    let file = dir.join("stack.kdl");
    std::fs::write(&file, format!("stack \"t\"\n{body}")).unwrap_or_else(|e| panic!("{e}"));
    let loaded = stackr_spec::load(&[file], &Disk, &stackr_spec::Options::default());
    loaded
        .stack
        .unwrap_or_else(|| panic!("invalid test stack: {:?}", loaded.diagnostics))
}

/// The rules of a service `web` whose `watch` block holds `watch`.
pub fn rules(dir: &Path, watch: &str) -> Rules {
    let s = stack(
        dir,
        &format!(
            "service \"web\" {{\n    image \"x\"\n    watch {{\n        {watch}\n    }}\n}}\n"
        ),
    );
    Rules::new(&s, &[]).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes a file, making its folders.
pub fn write(path: &Path, text: &str) {
    if let Some(p) = path.parent() {
        std::fs::create_dir_all(p).unwrap_or_else(|e| panic!("{e}"));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
}
