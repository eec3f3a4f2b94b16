//! Compiles `Upstash-Retry-Delay` expressions given on the command line and previews them.
//!
//! ```text
//! cargo run -p qstash-retry-delay --example retry_delay -- 'max(1000, pow(2, retried) * 100)' '2^retried'
//! ```
//!
//! Each valid expression prints its delays for the first eight retries; each invalid one
//! prints the error with a caret under the offending bytes. Without arguments it previews the
//! default backoff. The exit status is 1 if any expression was invalid.

use std::process::ExitCode;
use std::time::Duration;

use qstash_retry_delay::RetryDelay;

const RETRIES: u32 = 8;

fn show(duration: Duration) -> String {
    let ms = duration.as_millis();
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", duration.as_secs_f64()),
        60_000..3_600_000 => format!("{}m{}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

fn preview(program: &RetryDelay) {
    let constant = if program.is_constant() {
        ", constant"
    } else {
        ""
    };
    println!(
        "{program}  ({} instructions{constant})",
        program.program_len()
    );
    for (retried, delay) in (0..).zip(program.schedule(RETRIES)) {
        let value = program.eval(retried);
        match delay {
            Ok(d) => println!("    retried = {retried}: {value} ms -> {}", show(d)),
            Err(e) => println!("    retried = {retried}: {e}"),
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        preview(&RetryDelay::default_backoff());
        return ExitCode::SUCCESS;
    }
    let mut status = ExitCode::SUCCESS;
    for arg in &args {
        match RetryDelay::compile(arg) {
            Ok(program) => preview(&program),
            Err(err) => {
                println!("{err}");
                let caret_at = arg.get(..err.offset()).map_or(0, |s| s.chars().count());
                let width = arg.get(err.span()).map_or(1, |s| s.chars().count().max(1));
                println!(
                    "    {arg}\n    {}{}",
                    " ".repeat(caret_at),
                    "^".repeat(width)
                );
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
