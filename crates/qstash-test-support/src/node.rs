//! Node.js packages for the tests that run the official SDKs or a browser: where the example
//! workflow lives, and `npm ci` when a folder's packages are missing (failing the test when it
//! cannot install them, never skipping it).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `examples/workflow`: the Node example endpoint, whose lockfile pins the official
/// `@upstash/workflow` and `@upstash/qstash` packages the compatibility tests run.
pub fn example_workflow_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/workflow")
}

/// Runs `npm ci` in `dir` when `dir/node_modules/<probe>` is missing (`probe` names a file of
/// the package the caller needs, such as `@upstash/workflow/package.json`).
///
/// # Panics
/// When npm cannot be run or `npm ci` fails: a test that needs the packages must not pass
/// without them.
pub fn npm_ci(dir: &Path, probe: &str) {
    if dir.join("node_modules").join(probe).exists() {
        return;
    }
    let out = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "running npm in {} (is Node.js installed?): {e}",
                dir.display()
            )
        });
    assert!(
        out.status.success(),
        "npm ci in {} failed: {}",
        dir.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}
