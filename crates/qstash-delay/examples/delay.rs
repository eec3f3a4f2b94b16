//! Checks `Upstash-Delay` values given on the command line.
//!
//! ```text
//! cargo run -p qstash-delay --example delay -- 1d10h30m 90m1.5s 5sec
//! ```
//!
//! Each valid value prints its canonical form and exact length; each invalid one prints the
//! error with a caret under the offending byte. The exit status is 1 if any value was invalid.

use std::process::ExitCode;
use std::time::Duration;

use qstash_delay::Delay;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: delay VALUE...   (for example: delay 50s 1d10h30m 1.5h)");
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for arg in &args {
        match Delay::parse(arg.as_bytes()) {
            Ok(delay) => {
                let duration = Duration::from(delay);
                println!(
                    "{arg:>20} = {delay}  ({} ns, {duration:?})",
                    delay.as_nanos()
                );
            }
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
