//! The limits on what a load reads and builds, so that no input (however hostile) costs more
//! than bounded time and memory. Each one crossed is a diagnostic at the span that crosses it.
//! The book's "Limits" section lists them; keep the two in step.

/// The largest stack, include or env file read: 16 MiB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// The most files one load reads (the `-f` files and everything they include).
pub const MAX_FILES: usize = 128;

/// How deep children blocks may nest. A stack needs about five levels.
pub const MAX_DEPTH: usize = 32;

/// How deep `/* */` comments may nest (KDL comments nest).
pub const MAX_COMMENT_DEPTH: usize = 32;

/// The longest value interpolation may make: 1 MiB.
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// The most text interpolation may make in one file, all values together: 16 MiB.
pub const MAX_INTERPOLATED_BYTES: usize = 16 << 20;

/// Sizes as the book writes them.
pub fn show_bytes(n: u64) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 && n.is_multiple_of(1 << 10) {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} bytes")
    }
}
