//! How the commands show things to people: times (RFC 3339, UTC), durations, and a workflow
//! run with its steps as a tree. `--json` output keeps the API's epoch milliseconds instead.

use std::fmt::Write as _;

use qstash_protocol::RunLog;
use serde_json::Value;

/// Epoch milliseconds as RFC 3339 in UTC (`2026-12-07T13:00:01.234Z`); the number itself when
/// it is out of range.
pub fn time(ms: u64) -> String {
    i64::try_from(ms)
        .ok()
        .and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok())
        .map_or_else(|| ms.to_string(), |t| t.to_string())
}

/// A duration in milliseconds for people: `850ms`, `2.1s`, `3m05s`, `2h04m`.
pub fn duration(ms: u64) -> String {
    match ms {
        0..1_000 => format!("{ms}ms"),
        1_000..60_000 => format!("{:.1}s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{}m{:02}s", ms / 60_000, ms % 60_000 / 1000),
        _ => format!("{}h{:02}m", ms / 3_600_000, ms % 3_600_000 / 60_000),
    }
}

/// One step of a run, as the logs list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `stepName`.
    pub name: String,
    /// `stepType` (`Initial`, `Run`, `SleepFor`, `Call`, `Wait`, …).
    pub kind: String,
    /// `state` (`STEP_SUCCESS`, …).
    pub state: String,
    /// `createdAt`, epoch milliseconds.
    pub at: Option<u64>,
}

/// The steps of `run` in order, in groups: one step, or the steps that ran in parallel.
pub fn step_groups(run: &RunLog) -> Vec<Vec<Step>> {
    let Some(Value::Array(groups)) = run.other.get("steps") else {
        return Vec::new();
    };
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("-").to_owned();
    groups
        .iter()
        .map(|group| {
            group
                .get("steps")
                .and_then(Value::as_array)
                .map(|steps| {
                    steps
                        .iter()
                        .map(|s| Step {
                            name: text(s, "stepName"),
                            kind: text(s, "stepType"),
                            state: text(s, "state"),
                            at: s.get("createdAt").and_then(Value::as_u64),
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .filter(|g: &Vec<Step>| !g.is_empty())
        .collect()
}

/// How many steps `run` has recorded.
#[cfg(test)]
pub fn step_count(run: &RunLog) -> usize {
    step_groups(run).iter().map(Vec::len).sum()
}

/// A step's line: name, type and state in columns, and how long after the step before it (or
/// the run's start) it was recorded.
pub fn step_line(step: &Step, previous: Option<u64>, widths: (usize, usize)) -> String {
    let after = match (step.at, previous) {
        (Some(at), Some(prev)) => format!("  +{}", duration(at.saturating_sub(prev))),
        _ => String::new(),
    };
    format!(
        "{:<nw$}  {:<kw$}  {}{after}",
        step.name,
        step.kind,
        step.state,
        nw = widths.0,
        kw = widths.1
    )
}

/// `run` as a header line and a tree of its steps:
///
/// ```text
/// wfr_…  RUN_SUCCESS  2026-12-07T13:00:01.234Z  took 2.1s  http://127.0.0.1:3000/workflow
///   ├─ init      Initial   STEP_SUCCESS
///   ├─ double    Run       STEP_SUCCESS  +15ms
///   ├─ parallel, 2 steps
///   │  ├─ part-0  Run  STEP_SUCCESS  +12ms
///   │  └─ part-1  Run  STEP_SUCCESS  +13ms
///   └─ echo      Call      STEP_SUCCESS  +30ms
/// ```
pub fn write_run(out: &mut String, run: &RunLog) {
    let took = match (run.workflow_run_created_at, run.workflow_run_completed_at) {
        (Some(start), Some(end)) => format!("  took {}", duration(end.saturating_sub(start))),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "{}  {}  {}{took}  {}",
        run.workflow_run_id.as_str(),
        run.workflow_state.as_deref().unwrap_or("-"),
        run.workflow_run_created_at
            .map_or_else(|| "-".to_owned(), time),
        run.workflow_url.as_deref().unwrap_or("-"),
    );
    if let Some(reason) = run.other.get("reason").and_then(Value::as_str) {
        let _ = writeln!(out, "  reason: {}", reason.escape_debug());
    }
    let groups = step_groups(run);
    let widths = groups.iter().flatten().fold((0, 0), |(n, k), s| {
        (n.max(s.name.chars().count()), k.max(s.kind.chars().count()))
    });
    let mut previous = run.workflow_run_created_at;
    for (i, group) in groups.iter().enumerate() {
        let last_group = i + 1 == groups.len();
        let (branch, indent) = if last_group {
            ("└─", "   ")
        } else {
            ("├─", "│  ")
        };
        if let [step] = group.as_slice() {
            let _ = writeln!(out, "  {branch} {}", step_line(step, previous, widths));
            previous = step.at.or(previous);
            continue;
        }
        let _ = writeln!(out, "  {branch} parallel, {} steps", group.len());
        let before = previous;
        for (j, step) in group.iter().enumerate() {
            let inner = if j + 1 == group.len() {
                "└─"
            } else {
                "├─"
            };
            let _ = writeln!(out, "  {indent}{inner} {}", step_line(step, before, widths));
            previous = previous.max(step.at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use qstash_protocol::RunId;
    use serde_json::json;

    #[test]
    fn times_are_rfc3339_in_utc() {
        assert_eq!(time(0), "1970-01-01T00:00:00Z");
        assert_eq!(time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(time(u64::MAX), u64::MAX.to_string());
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(850), "850ms");
        assert_eq!(duration(2_140), "2.1s");
        assert_eq!(duration(185_000), "3m05s");
        assert_eq!(duration(7_440_000), "2h04m");
    }

    #[test]
    fn a_run_shows_its_steps_as_a_tree() {
        let mut run = RunLog::new(RunId::new("wfr_a").unwrap());
        run.workflow_state = Some("RUN_SUCCESS".into());
        run.workflow_url = Some("http://127.0.0.1:3000/workflow".into());
        run.workflow_run_created_at = Some(1_000);
        run.workflow_run_completed_at = Some(3_100);
        let step = |name: &str, kind: &str, at: u64| json!({"stepName": name, "stepType": kind, "state": "STEP_SUCCESS", "createdAt": at});
        run.other.insert(
            "steps".into(),
            json!([
                {"type": "sequential", "steps": [step("init", "Initial", 1_000)]},
                {"type": "parallel", "steps": [step("part-0", "Run", 1_020), step("part-1", "Run", 1_030)]},
                {"type": "sequential", "steps": [step("echo", "Call", 3_030)]},
            ]),
        );
        let mut out = String::new();
        write_run(&mut out, &run);
        assert_eq!(
            out,
            "wfr_a  RUN_SUCCESS  1970-01-01T00:00:01Z  took 2.1s  http://127.0.0.1:3000/workflow\n\
             \x20 ├─ init    Initial  STEP_SUCCESS  +0ms\n\
             \x20 ├─ parallel, 2 steps\n\
             \x20 │  ├─ part-0  Run      STEP_SUCCESS  +20ms\n\
             \x20 │  └─ part-1  Run      STEP_SUCCESS  +30ms\n\
             \x20 └─ echo    Call     STEP_SUCCESS  +2.0s\n"
        );
        assert_eq!(step_count(&run), 4);
    }
}
