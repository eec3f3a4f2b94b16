//! Parses each argument as an `Upstash-Cron` expression and prints its next five ticks.

use std::time::{SystemTime, UNIX_EPOCH};

use qstash_cron::Cron;

fn main() {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    for arg in std::env::args().skip(1) {
        match Cron::parse(&arg) {
            Ok(cron) => {
                println!("{cron}");
                for tick in cron.ticks_after(now).take(5) {
                    println!("  {}", cron.local_time(tick).unwrap_or_default());
                }
            }
            Err(err) => println!("{err}"),
        }
    }
}
