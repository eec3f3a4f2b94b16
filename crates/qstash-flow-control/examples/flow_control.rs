//! Checks `Upstash-Flow-Control-Value` values given on the command line.
//!
//! ```text
//! cargo run -p qstash-flow-control --example flow_control -- "rate=10,parallelism=1" "rate=5, period=8d"
//! ```
//!
//! Each valid value prints its canonical form and limits; each invalid one prints the error
//! with a caret under the offending bytes. The exit status is 1 if any value was invalid.

use std::process::ExitCode;

use qstash_flow_control::FlowControl;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!(
            "usage: flow_control VALUE...   (for example: flow_control \"rate=10,parallelism=1\")"
        );
        return ExitCode::from(2);
    }
    let mut status = ExitCode::SUCCESS;
    for arg in &args {
        match FlowControl::parse(arg.as_bytes()) {
            Ok(value) => {
                let show =
                    |n: Option<std::num::NonZeroU32>| n.map_or("-".to_owned(), |n| n.to_string());
                println!(
                    "{arg:>40} = {value}  (parallelism {}, rate {} per {})",
                    show(value.parallelism()),
                    show(value.rate()),
                    value.period()
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
