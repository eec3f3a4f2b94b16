//! `qstash batch FILE`: one run per JSON line, started through `POST /v2/batch/trigger` in
//! chunks of lines, several chunks in flight at once.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use clap::Args;
use futures_util::StreamExt as _;
use indicatif::{ProgressBar, ProgressStyle};
use qstash_client::{BatchResponseEntry, Client};
use qstash_protocol::{BatchRequestEntry, TriggerBatch, TriggerRequest};

use crate::diagnostic::Failure;

/// `qstash batch` flags.
#[derive(Debug, Args)]
pub struct BatchArgs {
    /// A JSON-lines file, one `{"destination", "body", "headers"}` object per line; `-` for
    /// stdin. Blank lines are skipped.
    pub file: PathBuf,
    /// How many batch requests are in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// How many lines one batch request carries.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub batch_size: u16,
    #[command(flatten)]
    pub api: crate::ApiArgs,
}

/// A line that could not become a request: its number and why.
struct BadLine {
    line: usize,
    message: String,
}

/// The requests of the good lines (with their line numbers) and the bad lines.
type Lines = (Vec<(usize, TriggerRequest)>, Vec<BadLine>);

/// Reads every line; a bad line is kept as an error and does not stop the others.
fn read_lines(file: &PathBuf) -> Result<Lines, Failure> {
    let reader: Box<dyn std::io::BufRead> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let f = std::fs::File::open(file)
            .map_err(|e| Failure::input(format!("{}: {e}", file.display())))?;
        Box::new(std::io::BufReader::new(f))
    };
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let number = i + 1;
        let line =
            line.map_err(|e| Failure::input(format!("{}: line {number}: {e}", file.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        match parse_line(&line) {
            Ok(request) => good.push((number, request)),
            Err(message) => bad.push(BadLine {
                line: number,
                message,
            }),
        }
    }
    Ok((good, bad))
}

/// One JSON line → a trigger request, with the same checks as a batch entry.
fn parse_line(line: &str) -> Result<TriggerRequest, String> {
    let entry: BatchRequestEntry =
        serde_json::from_str(line).map_err(|e| format!("invalid JSON: {e}"))?;
    TriggerBatch::from_entries(std::slice::from_ref(&entry))
        .map_err(|e| e.to_string())?
        .into_entries()
        .pop()
        .ok_or_else(|| "empty entry".to_string())
}

/// What one batch request gives its lines: a "started" line for each, in the order of the
/// request, or the error that every line of the chunk shares.
fn chunk_outcome(
    lines: &[usize],
    result: Result<Vec<BatchResponseEntry>, qstash_client::Error>,
) -> Result<Vec<(usize, String)>, String> {
    let entries = result.map_err(|e| crate::diagnostic::report(&e))?;
    if entries.len() != lines.len() {
        return Err(format!(
            "unexpected response: the server answered {} entries for {} lines",
            entries.len(),
            lines.len()
        ));
    }
    Ok(lines
        .iter()
        .zip(entries)
        .map(|(&line, entry)| {
            let note = if entry.deduplicated {
                " (deduplicated)"
            } else {
                ""
            };
            let id = entry.workflow_run_id;
            (line, format!("line {line}: started {}{note}", id.as_str()))
        })
        .collect())
}

/// Runs the file; returns the summary, or a failure when a line was bad (2) or a trigger
/// failed (1), after every good line was tried.
pub async fn run(client: &Client, args: &BatchArgs) -> Result<String, Failure> {
    let (requests, bad) = read_lines(&args.file)?;
    let total = requests.len() + bad.len();
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        let bar = ProgressBar::new(total as u64);
        if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}") {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let report = |text: String| {
        if terminal {
            bar.println(text);
        } else {
            eprintln!("{text}");
        }
    };
    for b in &bad {
        report(format!("line {}: invalid: {}", b.line, b.message));
        bar.inc(1);
    }
    let mut chunks = Vec::new();
    let mut requests = requests.into_iter().peekable();
    while requests.peek().is_some() {
        let chunk: (Vec<usize>, Vec<TriggerRequest>) =
            requests.by_ref().take(usize::from(args.batch_size)).unzip();
        chunks.push(chunk);
    }
    let mut results = futures_util::stream::iter(chunks)
        .map(|(lines, requests)| async move { (lines, client.batch_trigger(requests).await) })
        .buffer_unordered(usize::from(args.concurrency));
    let mut outcomes = Vec::with_capacity(total);
    let mut failed = 0usize;
    while let Some((lines, result)) = results.next().await {
        match chunk_outcome(&lines, result) {
            Ok(started) => outcomes.extend(started),
            Err(message) => {
                for &line in &lines {
                    failed += 1;
                    report(format!("line {line}: failed: {message}"));
                }
            }
        }
        bar.inc(lines.len() as u64);
    }
    bar.finish_and_clear();
    outcomes.sort_by_key(|(line, _)| *line);
    let started = outcomes.len();
    let mut out: String = outcomes.into_iter().map(|(_, text)| text + "\n").collect();
    let summary = format!(
        "{started} started, {failed} failed, {} invalid, of {total} lines",
        bad.len()
    );
    out.push_str(&summary);
    out.push('\n');
    if failed > 0 {
        eprint!("{out}");
        return Err(Failure::Api(summary));
    }
    if !bad.is_empty() {
        eprint!("{out}");
        return Err(Failure::input(summary));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_a_batch_entry() {
        let r = parse_line(
            r#"{"destination":"https://example.com/wf","body":"hi","headers":{"Upstash-Delay":"10s"}}"#,
        )
        .unwrap();
        assert_eq!(r.url().as_str(), "https://example.com/wf");
        assert_eq!(r.body().as_ref(), b"hi");
        assert_eq!(r.delay().map(|d| d.as_secs()), Some(10));
    }

    #[test]
    fn bad_lines_say_why() {
        assert!(parse_line("{").unwrap_err().starts_with("invalid JSON"));
        let err =
            parse_line(r#"{"destination":"https://x.test","headers":{"Upstash-Delay":"5sec"}}"#)
                .unwrap_err();
        assert!(err.contains("unknown unit \"sec\""), "{err}");
        assert!(parse_line(r#"{"destination":"ftp://x"}"#).is_err());
    }
}
