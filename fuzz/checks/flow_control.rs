//! The property the `flow_control` fuzz target asserts, shared with the corpus replay test in
//! `crates/qstash-flow-control/tests/fuzz_corpus.rs` so that stable CI checks the same thing.

use qstash_flow_control::{ErrorKind, FlowControl, FlowControlKey};

/// Parses `data` as a flow-control value and as a key.
///
/// A value must keep its invariants, its canonical form must parse back to it and be stable,
/// and rebuilding it with the constructors must give it back. An error must point inside the
/// input and say where. A key must be the input itself.
pub fn check(data: &[u8]) {
    match FlowControl::parse(data) {
        Ok(value) => {
            assert!(value.parallelism().is_some() || value.rate().is_some());
            let period = value.period();
            assert!(
                !period.is_zero() && period <= FlowControl::MAX_PERIOD,
                "{value:?}"
            );
            if !value.period_is_set() {
                assert_eq!(period, FlowControl::DEFAULT_PERIOD);
            }
            let shown = value.to_string();
            let again = FlowControl::parse(shown.as_bytes()).expect("canonical form parses");
            assert_eq!(again, value, "display of {data:?} is {shown:?}");
            assert_eq!(again.to_string(), shown, "canonical form is stable");
            let mut rebuilt = FlowControl::new(value.parallelism(), value.rate()).expect("a limit");
            if let Some(given) = value.given_period() {
                assert_eq!(given, period);
                rebuilt.set_period(given).expect("period in range");
            }
            assert_eq!(rebuilt, value);
        }
        Err(err) => {
            assert!(err.offset() <= data.len(), "offset past the end: {err}");
            assert!(err.span().end <= data.len(), "span past the end: {err}");
            let message = err.to_string();
            assert!(message.starts_with("invalid flow control \""), "{message}");
            if err.kind() != ErrorKind::Empty {
                assert!(
                    message.ends_with(&format!(" at byte {}", err.offset())),
                    "{message}"
                );
            }
            if err.kind() == ErrorKind::BadPeriod {
                let inner = err
                    .period_error()
                    .expect("a bad period carries the delay error");
                assert!(inner.offset() <= err.offset(), "{err}");
                assert_eq!(inner.span().len(), err.span().len(), "{err}");
            } else if err.kind() != ErrorKind::PeriodTooLong {
                assert!(err.period_error().is_none(), "{err}");
            }
        }
    }
    match FlowControlKey::parse(data) {
        Ok(key) => {
            assert_eq!(key.as_str().as_bytes(), data);
            assert!((1..=FlowControlKey::MAX_LEN).contains(&data.len()));
            assert_eq!(FlowControlKey::new(key.to_string()).as_ref(), Ok(&key));
        }
        Err(err) => {
            assert!(
                err.span().end <= data.len().max(FlowControlKey::MAX_LEN),
                "{err}"
            );
            assert!(!err.to_string().is_empty());
        }
    }
}
