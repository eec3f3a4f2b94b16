//! Checks of storing and reading messages: a round trip keeps every field, a call is all or none,
//! tenants are apart, concurrent inserts.

use std::sync::Arc;

use super::{T0, all_events, claim_one, finish_of, get, insert, message, states_of};
use crate::{
    CancelOutcome, Dedup, DlqFilter, EventFilter, FinishOutcome, InsertOutcome, MessageState,
    Store, Transition,
};

/// `ping` answers on a working store.
pub async fn ping_answers<S: Store>(store: &S) {
    store.ping().await.expect("ping on a working store");
}

/// A message reads back exactly as stored, pending, with a `CREATED` event.
pub async fn insert_and_get_round_trip<S: Store>(store: &S) {
    let mut m = message("t1", "msg_a", T0 + 10);
    m.labels = vec!["l1".to_string(), "l%2_".to_string()];
    m.flow_key = Some("key".to_string());
    m.dedup = Some(Dedup {
        id: "d".to_string(),
        until: T0 + 600_000,
    });
    m.headers
        .push(("Content-Type".to_string(), "again".to_string()));
    m.body = vec![0, 159, 146, 150, 255];
    insert(store, vec![m.clone()], T0).await;
    let stored = get(store, "t1", "msg_a").await;
    assert_eq!(stored.message, m, "stored message is the one inserted");
    assert_eq!(stored.state, MessageState::Pending);
    assert_eq!((stored.retried, stored.claim), (0, 0));
    assert_eq!(stored.due_at, T0 + 10);
    assert_eq!(stored.last_response, None);
    assert_eq!(store.get_message("t1", "msg_b").await.expect("get"), None);
    let events = all_events(store, "t1", &EventFilter::default()).await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.state.as_str(), e.message_id.as_str(), e.time),
        ("CREATED", "msg_a", T0)
    );
    assert_eq!(e.url, m.destination);
    assert_eq!(e.labels, m.labels);
    assert_eq!(
        store.insert_messages(Vec::new(), T0).await.expect("empty"),
        vec![]
    );
}

/// A batch with one bad message (an id that exists) stores nothing and appends no event.
pub async fn insert_is_all_or_none<S: Store>(store: &S) {
    insert(store, vec![message("t1", "msg_a", T0)], T0).await;
    let out = store
        .insert_messages(
            vec![message("t1", "msg_b", T0), message("t1", "msg_a", T0)],
            T0,
        )
        .await;
    assert!(out.is_err(), "a batch with an existing id is refused");
    assert_eq!(store.get_message("t1", "msg_b").await.expect("get"), None);
    assert_eq!(states_of(store, "t1", "msg_b").await, Vec::<String>::new());
    assert_eq!(states_of(store, "t1", "msg_a").await, vec!["CREATED"]);
}

/// Another tenant's message is absent everywhere, and its finish is stale.
pub async fn tenant_isolation<S: Store>(store: &S) {
    insert(store, vec![message("t1", "msg_a", T0)], T0).await;
    assert_eq!(store.get_message("t2", "msg_a").await.expect("get"), None);
    let c = claim_one(store, T0).await;
    let mut f = finish_of(&c, T0 + 1, Transition::Delivered, "DELIVERED");
    f.tenant = "t2".to_string();
    assert_eq!(
        store.finish(vec![f]).await.expect("finish"),
        [FinishOutcome::Stale]
    );
    assert_eq!(get(store, "t1", "msg_a").await.state, MessageState::Pending);
    let filter = EventFilter {
        message_ids: vec!["msg_a".to_string()],
        ..EventFilter::default()
    };
    assert!(all_events(store, "t2", &filter).await.is_empty());
    assert_eq!(
        store
            .cancel_message("t2", "msg_a", T0)
            .await
            .expect("cancel"),
        CancelOutcome::NotFound
    );
    let other = store
        .list_dlq("t2", &DlqFilter::default(), None, 10)
        .await
        .expect("list_dlq");
    assert!(other.items.is_empty());
}

/// Many tasks inserting at once: every insert is committed and readable.
pub async fn concurrent_inserts<S: Store>(store: Arc<S>) {
    const TASKS: usize = 64;
    const EACH: usize = 20;
    let mut tasks = Vec::with_capacity(TASKS);
    for t in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in 0..EACH {
                let tenant = format!("t{}", t % 3);
                let m = message(&tenant, &format!("msg_{t}_{i}"), T0 + i as u64);
                let out = store.insert_messages(vec![m], T0).await.expect("insert");
                assert_eq!(out, [InsertOutcome::Inserted]);
            }
        }));
    }
    for task in tasks {
        task.await.expect("an inserting task panicked");
    }
    for t in 0..TASKS {
        for i in 0..EACH {
            get(&*store, &format!("t{}", t % 3), &format!("msg_{t}_{i}")).await;
        }
    }
    let mut total = 0;
    for tenant in ["t0", "t1", "t2"] {
        total += all_events(&*store, tenant, &EventFilter::default())
            .await
            .len();
    }
    assert_eq!(total, TASKS * EACH, "one CREATED event each");
}
