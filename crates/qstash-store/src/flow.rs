//! Flow control's rules (SERVER.md §8), shared by both database backends: what holds a key's
//! due messages back, and how an attempt's start counts.
//!
//! # The claim path: a claim costs what it claims, not what waits
//!
//! A key (a gate: today a flow-control key, `(tenant, key)` in `flow_keys`) keeps its messages
//! in two places:
//!
//! - **the due index** (`messages_due`: pending, not held, by due time): the messages that may
//!   start when due, the attempts in flight (due at their lease end) and those whose lease
//!   ended;
//! - **the key's wait list** (`held`, ordered by `(due_at, seq)` in the key's own index): the
//!   due messages its limits hold back.
//!
//! A claim reads the due index in due order. A keyed message whose key is at its limit, or
//! that has held messages due before it (a key's messages start in due order), is moved to
//! the wait list **once**: later scans never see it again, so a claim reads only what it claims
//! plus what newly became due. The key counts its wait list (`flow_keys.waiting`).
//!
//! A place comes back in the transaction that frees it: a finish (delivered, failed for good,
//! retry scheduled) or a cancel of a keyed message *promotes* the first held messages, as many
//! as the key has places for, back into the due index (keeping their due time, so they are
//! claimed first). A key held by a full rate window records the window's end (`wake_at`); a
//! claim first promotes from the keys whose `wake_at` has come, exactly as many as the window
//! allows. A change of limits sets `wake_at` to now when the key has a wait list. An attempt
//! whose lease ended (its process died) is in the due index again and competes for a place
//! like any due message; the attempts in flight are counted through the key's index (claims
//! whose lease has not ended: at most `parallelism` rows), so a dead process's places come back
//! when its leases end, in every process. Promoted messages are not a start: the claim that
//! takes one checks the limits again (a promoted message that lost its place goes back to the
//! head of the wait list).
//!
//! [`crate::Store::next_due`] is the earlier of the first due index entry that a claim would
//! start (the entries not yet sorted out are few: they became due since the last claim) and
//! the earliest `wake_at`. On PostgreSQL the key's row is locked (`FOR UPDATE`) by every
//! transaction that moves its messages between the two places or changes its counts (claims
//! skip a locked key, `SKIP LOCKED`), so the limits hold across processes.
//!
//! The same structure can serve other gates (a queue's strict order and parallelism, a paused
//! key: a pause is a hold that no place ends) by adding a gate kind to the key.

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
    /// The key's wait list: its held messages.
    pub(crate) waiting: u64,
    /// Messages promoted in this transaction and not claimed yet: places reserved for them.
    pub(crate) promoted: u64,
    /// The window or the wait list changed and must be written back.
    pub(crate) dirty: bool,
}

impl KeyState {
    pub(crate) fn window_open(&self, now: Millis) -> bool {
        self.window_count > 0 && self.window_start.saturating_add(self.period_ms) > now
    }

    pub(crate) fn hold(&self, now: Millis) -> Hold {
        if let Some(p) = self.parallelism
            && self.in_flight + self.promoted >= p.max(1)
        {
            return Hold::Parallelism;
        }
        match self.rate {
            Some(r) if self.window_open(now) && self.window_count + self.promoted >= r.max(1) => {
                Hold::RateUntil(self.window_start.saturating_add(self.period_ms))
            }
            // The promoted messages will open a window when claimed.
            Some(r) if !self.window_open(now) && self.promoted >= r.max(1) => {
                Hold::RateUntil(now.saturating_add(self.period_ms))
            }
            _ => Hold::Free,
        }
    }

    /// How many more attempts may start at `now` (places not reserved for promoted messages).
    pub(crate) fn free_places(&self, now: Millis) -> u64 {
        let by_parallelism = self.parallelism.map_or(u64::MAX, |p| {
            p.max(1).saturating_sub(self.in_flight + self.promoted)
        });
        let by_rate = self.rate.map_or(u64::MAX, |r| {
            let used = if self.window_open(now) {
                self.window_count
            } else {
                0
            };
            r.max(1).saturating_sub(used + self.promoted)
        });
        by_parallelism.min(by_rate)
    }

    /// The time the key's wait list must be looked at again without a finish (`None`: a finish
    /// or a cancel will, or nothing waits).
    pub(crate) fn wake_at(&self, now: Millis) -> Option<Millis> {
        if self.waiting == 0 {
            return None;
        }
        match self.hold(now) {
            Hold::Free => Some(now),
            Hold::Parallelism => None,
            Hold::RateUntil(end) => Some(end),
        }
    }

    /// Counts one attempt started at `now`.
    pub(crate) fn start(&mut self, now: Millis) {
        self.in_flight += 1;
        self.dirty = true;
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
            waiting: 0,
            promoted: 0,
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
    }

    #[test]
    fn promoted_messages_reserve_their_places() {
        let mut k = key(Some(3), None, 1000);
        k.start(0);
        assert_eq!(k.free_places(1), 2);
        k.promoted = 2;
        assert_eq!((k.free_places(1), k.hold(1)), (0, Hold::Parallelism));
        let mut r = key(None, Some(2), 1000);
        r.promoted = 2;
        assert_eq!(r.hold(5), Hold::RateUntil(1005));
        r.waiting = 1;
        assert_eq!(r.wake_at(5), Some(1005));
        r.promoted = 0;
        assert_eq!((r.free_places(5), r.wake_at(5)), (2, Some(5)));
    }

    #[test]
    fn a_fixed_window_opens_with_the_first_start_and_lasts_its_period() {
        let mut k = key(None, Some(2), 1000);
        k.start(500);
        assert_eq!((k.window_start, k.window_count), (500, 1));
        k.start(900);
        assert_eq!(k.hold(1499), Hold::RateUntil(1500));
        assert_eq!(k.free_places(1499), 0);
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
