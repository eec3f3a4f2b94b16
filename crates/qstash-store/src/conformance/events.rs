//! Checks of the event log: the states a message goes through, the cursor walk, the filters.

use super::{T0, all_events, claim_one, finish_of, insert, message};
use crate::{Event, EventFilter, Store, Transition};

/// Every step of a message's life appends its event, with the message's url and labels.
pub async fn events_in_the_right_states<S: Store>(store: &S) {
    let mut m = message("t1", "msg_a", T0);
    m.labels = vec!["red".to_string()];
    insert(store, vec![m.clone()], T0).await;
    let c = claim_one(store, T0).await;
    store
        .finish(vec![finish_of(
            &c,
            T0 + 1,
            Transition::Retry { at: T0 + 2 },
            "RETRY",
        )])
        .await
        .expect("finish");
    let c = claim_one(store, T0 + 2).await;
    store
        .finish(vec![finish_of(&c, T0 + 3, Transition::Failed, "FAILED")])
        .await
        .expect("finish");
    let events = all_events(store, "t1", &EventFilter::default()).await;
    let states: Vec<_> = events.iter().map(|e| e.state.as_str()).collect();
    assert_eq!(
        states,
        ["FAILED", "ACTIVE", "RETRY", "ACTIVE", "CREATED"],
        "newest first"
    );
    let times: Vec<_> = events.iter().map(|e| e.time).collect();
    assert_eq!(times, [T0 + 3, T0 + 2, T0 + 1, T0, T0]);
    for pair in events.windows(2) {
        assert!(pair[0].id > pair[1].id, "ids decrease newest first");
    }
    for e in &events {
        assert_eq!(e.message_id, "msg_a");
        assert_eq!(e.url, m.destination);
        assert_eq!(e.labels, m.labels);
    }
}

/// A cursor walk, newest first, sees every event once, even while new events are appended.
pub async fn events_cursor_walk<S: Store>(store: &S) {
    for i in 0..25 {
        insert(
            store,
            vec![message("t1", &format!("msg_{i:02}"), T0)],
            T0 + i,
        )
        .await;
    }
    insert(store, vec![message("t2", "msg_other", T0)], T0).await;
    let filter = EventFilter::default();
    let mut seen = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = store
            .list_events("t1", &filter, cursor, 7)
            .await
            .expect("list_events");
        assert!(page.items.len() <= 7, "a page holds at most count items");
        seen.extend(page.items.iter().map(|e| e.message_id.clone()));
        pages += 1;
        // New events arrive mid-walk.
        insert(
            store,
            vec![message("t1", &format!("msg_new{pages}"), T0)],
            T0 + 100,
        )
        .await;
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<_> = (0..25).rev().map(|i| format!("msg_{i:02}")).collect();
    assert_eq!(seen, expected, "every event once, newest first");
    assert_eq!(pages, 4);
    let first = store
        .list_events("t1", &filter, None, 1)
        .await
        .expect("list_events");
    assert_eq!(
        first.items[0].message_id, "msg_new4",
        "a new walk starts at the newest"
    );
    let exact = store
        .list_events("t2", &filter, None, 1)
        .await
        .expect("list_events");
    assert_eq!(exact.items.len(), 1);
    assert_eq!(exact.next, None, "no next cursor when nothing older exists");
}

/// The event filters: message id, state, url, and whole-label match.
pub async fn event_filters<S: Store>(store: &S) {
    let mut a = message("t1", "msg_a", T0);
    a.labels = vec!["a%b".to_string(), "x_y".to_string()];
    let mut b = message("t1", "msg_b", T0 + 1);
    b.labels = vec!["a%bc".to_string(), "xzy".to_string()];
    let mut c = message("t1", "msg_c", T0 + 2);
    c.destination = a.destination.clone();
    c.labels = vec!["x".to_string()];
    insert(store, vec![a.clone(), b.clone(), c.clone()], T0).await;
    let claimed = claim_one(store, T0).await;
    assert_eq!(claimed.message.message.id, "msg_a");
    store
        .finish(vec![finish_of(
            &claimed,
            T0 + 1,
            Transition::Delivered,
            "DELIVERED",
        )])
        .await
        .expect("finish");
    let ids = |events: Vec<Event>| -> Vec<(String, String)> {
        events
            .into_iter()
            .map(|e| (e.message_id, e.state))
            .collect()
    };
    let pair = |id: &str, state: &str| (id.to_string(), state.to_string());
    let by = |f: EventFilter| async move { ids(all_events(store, "t1", &f).await) };

    let got = by(EventFilter {
        message_ids: vec!["msg_a".to_string()],
        ..EventFilter::default()
    })
    .await;
    assert_eq!(
        got,
        [
            pair("msg_a", "DELIVERED"),
            pair("msg_a", "ACTIVE"),
            pair("msg_a", "CREATED")
        ]
    );
    let got = by(EventFilter {
        states: vec!["CREATED".to_string()],
        ..EventFilter::default()
    })
    .await;
    assert_eq!(
        got,
        [
            pair("msg_c", "CREATED"),
            pair("msg_b", "CREATED"),
            pair("msg_a", "CREATED")
        ]
    );
    let got = by(EventFilter {
        urls: vec![a.destination.clone()],
        states: vec!["CREATED".to_string()],
        ..EventFilter::default()
    })
    .await;
    assert_eq!(got, [pair("msg_c", "CREATED"), pair("msg_a", "CREATED")]);
    for (label, expected) in [
        ("a%b", vec!["msg_a"]),
        ("a%bc", vec!["msg_b"]),
        ("x_y", vec!["msg_a"]),
        ("x", vec!["msg_c"]),
        ("a", vec![]),
        ("%", vec![]),
        ("_", vec![]),
        ("", vec![]),
    ] {
        let got = by(EventFilter {
            labels: vec![label.to_string()],
            states: vec!["CREATED".to_string()],
            ..EventFilter::default()
        })
        .await;
        let got: Vec<_> = got.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(got, expected, "label {label:?} matches whole labels only");
    }
    let got = by(EventFilter {
        message_ids: vec!["msg_a".to_string()],
        states: vec!["ACTIVE".to_string()],
        urls: vec![a.destination.clone()],
        labels: vec!["x_y".to_string()],
        ..EventFilter::default()
    })
    .await;
    assert_eq!(
        got,
        [pair("msg_a", "ACTIVE")],
        "every filter set must match"
    );
    let other = all_events(store, "t2", &EventFilter::default()).await;
    assert!(other.is_empty(), "another tenant sees no events");
}
