//! Flow control's rules (SERVER.md §8), shared by both database backends: what holds a key's
//! due messages back, and how an attempt's start counts.

use crate::Millis;

/// What holds a key's due messages back at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Nothing: a claim may take one.
    Free,
    /// The key has `parallelism` attempts in flight.
    Parallelism,
    /// The rate window is full until this time (and parallelism does not hold).
    RateUntil(Millis),
}

/// A key's limits and counts, as one transaction sees and changes them (each backend loads
/// and saves it; the rules live here once).
#[derive(Debug, Clone)]
pub(crate) struct KeyState {
    pub(crate) parallelism: Option<u64>,
    pub(crate) rate: Option<u64>,
    pub(crate) period_ms: u64,
    pub(crate) window_start: Millis,
    pub(crate) window_count: u64,
    pub(crate) in_flight: u64,
    /// The window changed and must be written back.
    pub(crate) dirty: bool,
}

impl KeyState {
    pub(crate) fn window_open(&self, now: Millis) -> bool {
        self.window_count > 0 && self.window_start.saturating_add(self.period_ms) > now
    }

    pub(crate) fn hold(&self, now: Millis) -> Hold {
        if let Some(p) = self.parallelism
            && self.in_flight >= p.max(1)
        {
            return Hold::Parallelism;
        }
        match self.rate {
            Some(r) if self.window_open(now) && self.window_count >= r.max(1) => {
                Hold::RateUntil(self.window_start.saturating_add(self.period_ms))
            }
            _ => Hold::Free,
        }
    }

    /// Counts one attempt started at `now`.
    pub(crate) fn start(&mut self, now: Millis) {
        self.in_flight += 1;
        if self.rate.is_some() {
            if !self.window_open(now) {
                self.window_start = now;
                self.window_count = 0;
            }
            self.window_count += 1;
            self.dirty = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(parallelism: Option<u64>, rate: Option<u64>, period_ms: u64) -> KeyState {
        KeyState {
            parallelism,
            rate,
            period_ms,
            window_start: 0,
            window_count: 0,
            in_flight: 0,
            dirty: false,
        }
    }

    #[test]
    fn parallelism_holds_at_its_limit() {
        let mut k = key(Some(2), None, 1000);
        assert_eq!(k.hold(10), Hold::Free);
        k.start(10);
        k.start(11);
        assert_eq!(k.hold(12), Hold::Parallelism);
        assert!(!k.dirty, "parallelism alone writes no window");
    }

    #[test]
    fn a_fixed_window_opens_with_the_first_start_and_lasts_its_period() {
        let mut k = key(None, Some(2), 1000);
        k.start(500);
        assert_eq!((k.window_start, k.window_count), (500, 1));
        k.start(900);
        assert_eq!(k.hold(1499), Hold::RateUntil(1500));
        assert_eq!(k.hold(1500), Hold::Free, "the window has ended");
        k.start(1700);
        assert_eq!((k.window_start, k.window_count), (1700, 1), "a new window");
        assert!(k.dirty);
    }

    #[test]
    fn both_limits_hold_and_parallelism_is_reported_first() {
        let mut k = key(Some(1), Some(1), 1000);
        k.start(0);
        assert_eq!(k.hold(1), Hold::Parallelism);
        k.in_flight = 0;
        assert_eq!(k.hold(1), Hold::RateUntil(1000));
    }

    #[test]
    fn zero_limits_act_as_one() {
        let mut k = key(Some(0), Some(0), 1000);
        assert_eq!(k.hold(0), Hold::Free);
        k.start(0);
        assert_eq!(k.hold(1), Hold::Parallelism);
    }
}
