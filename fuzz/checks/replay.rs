//! Replays a committed fuzz corpus through a target's check on stable Rust.
//!
//! Included with `#[path]` by each parser crate's `tests/fuzz_corpus.rs`.

use std::path::PathBuf;

/// Runs `check` on every file of `fuzz/corpus/<target>` and returns how many there were.
///
/// Panics when the directory is missing or holds fewer than `min_files` files, so that a
/// corpus that disappeared cannot pass unnoticed.
pub fn replay(target: &str, min_files: usize, check: fn(&[u8])) -> usize {
    let dir: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "..",
        "fuzz",
        "corpus",
        target,
    ]
    .iter()
    .collect();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read corpus {}: {e}", dir.display()));
    let mut count = 0;
    for entry in entries {
        let path = entry.expect("corpus entry").path();
        if path.is_file() {
            let data = std::fs::read(&path).expect("corpus file");
            check(&data);
            count += 1;
        }
    }
    assert!(
        count >= min_files,
        "{} holds {count} files, expected at least {min_files}",
        dir.display()
    );
    count
}
