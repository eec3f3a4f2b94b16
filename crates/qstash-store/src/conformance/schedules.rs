//! Checks of schedules: a round trip, replace and delete, tenants apart, pause and resume, the
//! due ones and the next tick, and firing a tick exactly once (also concurrently, and after
//! missed ticks).

use std::sync::Arc;

use super::{T0, message};
use crate::{NewSchedule, ScheduleTick, Store, StoredSchedule};

/// One minute, the tick interval of the checks' schedules.
const MINUTE: u64 = 60_000;

/// A schedule of `tenant` ticking every minute, next at `T0 + 1 min`.
pub fn schedule(tenant: &str, id: &str) -> NewSchedule {
    NewSchedule {
        id: id.to_string(),
        tenant: tenant.to_string(),
        cron: "* * * * *".to_string(),
        destination: format!("https://example.com/{id}"),
        method: "POST".to_string(),
        headers: vec![
            ("Content-Type".to_string(), "text/plain".to_string()),
            ("Upstash-Retries".to_string(), "2".to_string()),
        ],
        body: b"tick".to_vec(),
        created_at: T0,
        next_at: Some(T0 + MINUTE),
        paused: false,
    }
}

/// The tick of `s` at `tick_at` (fired when its next tick is `expected`), publishing one
/// message `msg_id`.
pub fn tick_of(s: &NewSchedule, expected: u64, tick_at: u64, msg_id: &str) -> ScheduleTick {
    let mut m = message(&s.tenant, msg_id, tick_at);
    m.created_at = tick_at;
    ScheduleTick {
        tenant: s.tenant.clone(),
        schedule_id: s.id.clone(),
        expected_next_at: expected,
        tick_at,
        next_at: Some(tick_at + MINUTE),
        messages: vec![m],
    }
}

async fn get<S: Store>(store: &S, tenant: &str, id: &str) -> StoredSchedule {
    store
        .get_schedule(tenant, id)
        .await
        .expect("get_schedule")
        .unwrap_or_else(|| panic!("schedule {id} of {tenant} exists"))
}

/// A schedule reads back as stored; another tenant does not see it; a put with the same id
/// replaces it (its last tick forgotten); a delete removes it and says whether it did.
pub async fn schedule_round_trip_replace_delete<S: Store>(store: &S) {
    let s = schedule("t1", "scd_a");
    store.put_schedule(s.clone()).await.expect("put");
    let got = get(store, "t1", "scd_a").await;
    assert_eq!(got.schedule, s);
    assert_eq!((got.last_at, got.last_message_ids.len()), (None, 0));
    assert_eq!(store.get_schedule("t2", "scd_a").await.expect("get"), None);
    assert!(store.list_schedules("t2").await.expect("list").is_empty());
    assert!(!store.delete_schedule("t2", "scd_a").await.expect("delete"));

    let mut b = schedule("t1", "scd_b");
    b.created_at = T0 + 1;
    store.put_schedule(b).await.expect("put");
    let ids: Vec<String> = store
        .list_schedules("t1")
        .await
        .expect("list")
        .into_iter()
        .map(|s| s.schedule.id)
        .collect();
    assert_eq!(ids, ["scd_a", "scd_b"], "oldest first");

    assert!(
        store
            .fire_schedule(tick_of(&s, T0 + MINUTE, T0 + MINUTE, "msg_1"), T0 + MINUTE)
            .await
            .expect("fire")
    );
    let mut replaced = s.clone();
    replaced.cron = "0 * * * *".to_string();
    replaced.body = b"other".to_vec();
    replaced.next_at = Some(T0 + 60 * MINUTE);
    store.put_schedule(replaced.clone()).await.expect("replace");
    let got = get(store, "t1", "scd_a").await;
    assert_eq!(got.schedule, replaced, "a put with the same id replaces");
    assert_eq!(got.last_at, None);
    assert_eq!(store.list_schedules("t1").await.expect("list").len(), 2);

    assert!(store.delete_schedule("t1", "scd_a").await.expect("delete"));
    assert!(!store.delete_schedule("t1", "scd_a").await.expect("delete"));
    assert_eq!(store.get_schedule("t1", "scd_a").await.expect("get"), None);
    assert!(
        store
            .get_message("t1", "msg_1")
            .await
            .expect("get")
            .is_some(),
        "a deleted schedule's messages stay"
    );
}

/// Only schedules that are not paused and are due are listed as due, earliest first; the next
/// tick is the earliest of those not paused; a resume sets the next tick.
pub async fn schedule_due_pause_resume<S: Store>(store: &S) {
    assert_eq!(store.next_schedule_at().await.expect("next"), None);
    let a = schedule("t1", "scd_a");
    let mut b = schedule("t2", "scd_b");
    b.next_at = Some(T0 + 2 * MINUTE);
    let mut never = schedule("t1", "scd_never");
    never.next_at = None;
    for s in [&a, &b, &never] {
        store.put_schedule(s.clone()).await.expect("put");
    }
    assert_eq!(
        store.next_schedule_at().await.expect("next"),
        Some(T0 + MINUTE)
    );
    assert!(store.due_schedules(T0, 10).await.expect("due").is_empty());
    let due: Vec<String> = store
        .due_schedules(T0 + 5 * MINUTE, 10)
        .await
        .expect("due")
        .into_iter()
        .map(|s| s.schedule.id)
        .collect();
    assert_eq!(
        due,
        ["scd_a", "scd_b"],
        "due ones, earliest first, of every tenant"
    );
    assert_eq!(
        store
            .due_schedules(T0 + 5 * MINUTE, 1)
            .await
            .expect("due")
            .len(),
        1
    );

    assert!(
        store
            .set_schedule_paused("t1", "scd_a", true, None)
            .await
            .expect("pause")
    );
    assert!(
        !store
            .set_schedule_paused("t2", "scd_a", true, None)
            .await
            .expect("pause"),
        "another tenant's schedule is not there"
    );
    assert!(get(store, "t1", "scd_a").await.schedule.paused);
    assert_eq!(
        store.next_schedule_at().await.expect("next"),
        Some(T0 + 2 * MINUTE),
        "a paused schedule has no next tick"
    );
    let due = store.due_schedules(T0 + 5 * MINUTE, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    assert!(
        !store
            .fire_schedule(tick_of(&a, T0 + MINUTE, T0 + MINUTE, "msg_p"), T0 + MINUTE)
            .await
            .expect("fire"),
        "a paused schedule does not fire"
    );
    assert!(
        store
            .get_message("t1", "msg_p")
            .await
            .expect("get")
            .is_none()
    );

    assert!(
        store
            .set_schedule_paused("t1", "scd_a", false, Some(T0 + 10 * MINUTE))
            .await
            .expect("resume")
    );
    let got = get(store, "t1", "scd_a").await;
    assert!(!got.schedule.paused);
    assert_eq!(got.schedule.next_at, Some(T0 + 10 * MINUTE));
    assert_eq!(
        store.next_schedule_at().await.expect("next"),
        Some(T0 + 2 * MINUTE)
    );
}

/// A tick fires once: its messages are stored with the schedule's new next tick and last tick;
/// firing the same tick again (or a stale one) changes nothing. After missed ticks, one fire at
/// the latest tick publishes one message.
pub async fn schedule_fires_each_tick_once<S: Store>(store: &S) {
    let s = schedule("t1", "scd_a");
    store.put_schedule(s.clone()).await.expect("put");
    let tick = tick_of(&s, T0 + MINUTE, T0 + MINUTE, "msg_1");
    assert!(
        store
            .fire_schedule(tick.clone(), T0 + MINUTE)
            .await
            .expect("fire")
    );
    let mut again = tick.clone();
    again.messages[0].id = "msg_again".to_string();
    assert!(
        !store.fire_schedule(again, T0 + MINUTE).await.expect("fire"),
        "the same tick fires once"
    );
    assert!(
        store
            .get_message("t1", "msg_again")
            .await
            .expect("get")
            .is_none()
    );
    let got = get(store, "t1", "scd_a").await;
    assert_eq!(got.schedule.next_at, Some(T0 + 2 * MINUTE));
    assert_eq!(got.last_at, Some(T0 + MINUTE));
    assert_eq!(got.last_message_ids, ["msg_1"]);
    assert!(
        store
            .get_message("t1", "msg_1")
            .await
            .expect("get")
            .is_some()
    );

    // The process was down for ten minutes: the due list has the schedule once, and the
    // caller fires the latest missed tick only.
    let now = T0 + 12 * MINUTE + 30_000;
    let due = store.due_schedules(now, 10).await.expect("due");
    assert_eq!(due.len(), 1);
    let expected = due[0].schedule.next_at.expect("next tick");
    let mut late = tick_of(&s, expected, T0 + 12 * MINUTE, "msg_late");
    late.next_at = Some(T0 + 13 * MINUTE);
    assert!(store.fire_schedule(late, now).await.expect("fire"));
    assert!(store.due_schedules(now, 10).await.expect("due").is_empty());
    let got = get(store, "t1", "scd_a").await;
    assert_eq!(got.last_message_ids, ["msg_late"]);
    assert_eq!(got.last_at, Some(T0 + 12 * MINUTE));
    assert_eq!(
        store.next_schedule_at().await.expect("next"),
        Some(T0 + 13 * MINUTE)
    );
    let due_now = store.next_due(now).await.expect("next_due");
    assert!(
        due_now.is_some_and(|d| d <= now),
        "the tick's message is due"
    );
}

/// Many callers firing the same tick at once: exactly one fires it, and one message is stored.
pub async fn concurrent_schedule_fires<S: Store>(store: Arc<S>) {
    let s = schedule("t1", "scd_a");
    store.put_schedule(s.clone()).await.expect("put");
    for round in 0..5u64 {
        let at = T0 + (round + 1) * MINUTE;
        let mut tasks = Vec::new();
        for k in 0..8 {
            let store = Arc::clone(&store);
            let tick = tick_of(&s, at, at, &format!("msg_{round}_{k}"));
            tasks.push(tokio::spawn(async move {
                store.fire_schedule(tick, at).await.expect("fire")
            }));
        }
        let mut fired = 0;
        for t in tasks {
            fired += usize::from(t.await.expect("task"));
        }
        assert_eq!(fired, 1, "tick {round} fired by exactly one caller");
        let mut stored = 0;
        for k in 0..8 {
            let id = format!("msg_{round}_{k}");
            stored += usize::from(store.get_message("t1", &id).await.expect("get").is_some());
        }
        assert_eq!(stored, 1, "tick {round} stored one message");
    }
}
