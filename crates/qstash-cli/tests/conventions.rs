//! The workspace's test conventions, checked on the test sources themselves:
//!
//! - a test that needs PostgreSQL (its body calls `database_url(`) is `#[ignore]`d with the
//!   reason [`PG_IGNORE`], so that without a database it is reported as ignored, not as passed;
//!   and a test ignored with that reason does need the database;
//! - a test that starts the `qstash` binary goes through `common::qstash()`, which removes the
//!   caller's `QSTASH_*`/`UPSTASH_*` variables: only `tests/common/mod.rs` names the binary.

use std::path::{Path, PathBuf};

/// The attribute every PostgreSQL test carries.
const PG_IGNORE: &str =
    r#"#[ignore = "needs PostgreSQL: set QSTASH_TEST_DATABASE_URL (.ci/run starts one)"]"#;

/// The one file allowed to name the binary: it holds the env-clearing builder.
const BINARY_BUILDER: &str = "crates/qstash-cli/tests/common/mod.rs";

/// This file: its own examples of what breaks the conventions are not checked.
const THIS_FILE: &str = "crates/qstash-cli/tests/conventions.rs";

/// Every `.rs` file under each workspace crate's `tests/` folder, relative to the root.
fn test_sources(root: &Path) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    for krate in std::fs::read_dir(root.join("crates")).unwrap() {
        walk(&krate.unwrap().path().join("tests"), &mut out);
    }
    out.sort();
    out
}

/// Whether `line` is a test attribute (`#[test]`, `#[tokio::test]`, `#[tokio::test(…)]`).
fn is_test_attribute(line: &str) -> bool {
    let line = line.trim();
    line == "#[test]" || line.starts_with("#[tokio::test]") || line.starts_with("#[tokio::test(")
}

/// What breaks the conventions in the source `text` of the file `name`.
fn problems(name: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    if name != BINARY_BUILDER && text.contains("CARGO_BIN_EXE_qstash") {
        found.push(format!(
            "{name}: starts the qstash binary itself; use common::qstash(), which clears the \
             caller's QSTASH_*/UPSTASH_* variables"
        ));
    }
    let lines: Vec<&str> = text.lines().collect();
    for (at, line) in lines.iter().enumerate() {
        if !is_test_attribute(line) {
            continue;
        }
        // The attributes around this one, up to the `fn` line.
        let mut first = at;
        while first > 0 && lines[first - 1].trim_start().starts_with("#[") {
            first -= 1;
        }
        let mut fn_line = at;
        while fn_line < lines.len() && !lines[fn_line].contains("fn ") {
            fn_line += 1;
        }
        let attributes = lines[first..fn_line.min(lines.len())].join("\n");
        let body = function_body(&lines[fn_line.min(lines.len())..]);
        let name_of_fn = lines
            .get(fn_line)
            .map_or("?", |l| l.trim())
            .trim_end_matches('{')
            .trim();
        let needs_pg = body.contains("database_url(");
        let ignored_for_pg = attributes.contains(PG_IGNORE);
        if needs_pg && !ignored_for_pg {
            found.push(format!(
                "{name}:{}: `{name_of_fn}` needs PostgreSQL but lacks {PG_IGNORE}",
                at + 1
            ));
        }
        if ignored_for_pg && !needs_pg {
            found.push(format!(
                "{name}:{}: `{name_of_fn}` is ignored as needing PostgreSQL but does not call \
                 database_url()",
                at + 1
            ));
        }
    }
    found
}

/// The text of the function starting at `lines[0]`, up to its closing brace (braces inside
/// string and character literals, such as `format!("{}")`, do not count).
fn function_body(lines: &[&str]) -> String {
    let mut depth = 0usize;
    let mut opened = false;
    let mut in_string = false;
    let mut body = String::new();
    for line in lines {
        body.push_str(line);
        body.push('\n');
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if in_string {
                match c {
                    '\\' => i += 1,
                    '"' => in_string = false,
                    _ => {}
                }
            } else {
                match c {
                    '"' => in_string = true,
                    '/' if chars.get(i + 1) == Some(&'/') => break,
                    '\'' if chars.get(i + 2) == Some(&'\'') => i += 2,
                    '{' => {
                        depth += 1;
                        opened = true;
                    }
                    '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            i += 1;
        }
        if opened && depth == 0 {
            break;
        }
    }
    body
}

#[test]
fn the_workspace_tests_follow_the_conventions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sources = test_sources(&root);
    assert!(
        sources.len() > 20,
        "found only {} test sources under {}",
        sources.len(),
        root.display()
    );
    let mut pg_tests = 0;
    let mut found = Vec::new();
    for path in &sources {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if name == THIS_FILE {
            continue;
        }
        pg_tests += text.matches(PG_IGNORE).count();
        found.extend(problems(&name, &text));
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
    // The PostgreSQL tests exist and were seen (a broken scan would find none).
    assert!(pg_tests >= 15, "only {pg_tests} PostgreSQL tests found");
}

#[test]
fn the_check_finds_what_it_looks_for() {
    let unmarked = "#[tokio::test]\nasync fn a() {\n    let url = database_url();\n}\n";
    assert_eq!(problems("x.rs", unmarked).len(), 1, "{unmarked}");
    let marked = format!("#[test]\n{PG_IGNORE}\nfn a() {{\n    database_url();\n}}\n");
    assert!(problems("x.rs", &marked).is_empty(), "{marked}");
    let marked_needlessly = format!("{PG_IGNORE}\n#[test]\nfn a() {{\n    let x = 1;\n}}\n");
    assert_eq!(problems("x.rs", &marked_needlessly).len(), 1);
    let plain = "#[test]\nfn a() {\n    let x = 1;\n}\n#[test]\nfn b() { database_url(); }\n";
    assert_eq!(problems("x.rs", plain).len(), 1, "only b needs the mark");
    let spawns = "fn q() { Command::new(env!(\"CARGO_BIN_EXE_qstash\")); }";
    assert_eq!(problems("crates/x/tests/a.rs", spawns).len(), 1);
    assert!(problems(BINARY_BUILDER, spawns).is_empty());
}
