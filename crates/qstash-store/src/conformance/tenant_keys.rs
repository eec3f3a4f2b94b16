//! Conformance checks of the signing keys: the store-wide pair ([`Store::signing_keys_or_init`],
//! [`Store::rotate_signing_keys`]) and each tenant's own ([`Store::tenant_signing_keys_or_init`],
//! [`Store::rotate_tenant_signing_keys`]).

use std::sync::Arc;

use crate::{SigningKeys, Store, StoreError};

fn pair(current: &str, next: &str) -> SigningKeys {
    SigningKeys {
        current: current.to_string(),
        next: next.to_string(),
    }
}

/// A tenant's first proposed pair is kept; each tenant has its own; a rotation changes only
/// the rotating tenant's pair; the store-wide pair is separate from every tenant's.
pub async fn tenant_signing_keys<S: Store>(store: &S) {
    let a = pair("sig_a1", "sig_a2");
    let b = pair("sig_b1", "sig_b2");
    assert_eq!(
        store
            .tenant_signing_keys_or_init("ta", a.clone())
            .await
            .expect("keys of ta"),
        a
    );
    assert_eq!(
        store
            .tenant_signing_keys_or_init("ta", pair("sig_x", "sig_y"))
            .await
            .expect("keys of ta"),
        a,
        "a tenant's first pair is kept"
    );
    assert_eq!(
        store
            .tenant_signing_keys_or_init("tb", b.clone())
            .await
            .expect("keys of tb"),
        b,
        "another tenant gets its own pair"
    );
    let global = pair("sig_g1", "sig_g2");
    assert_eq!(
        store
            .signing_keys_or_init(global.clone())
            .await
            .expect("store-wide keys"),
        global,
        "the store-wide pair is not a tenant's"
    );
    let rotated = store
        .rotate_tenant_signing_keys("tb", "sig_b3".to_string())
        .await
        .expect("rotate tb");
    assert_eq!(rotated, pair("sig_b2", "sig_b3"));
    assert_eq!(
        store
            .tenant_signing_keys_or_init("tb", pair("sig_x", "sig_y"))
            .await
            .expect("keys of tb"),
        rotated,
        "the rotation is stored"
    );
    assert_eq!(
        store
            .tenant_signing_keys_or_init("ta", pair("sig_x", "sig_y"))
            .await
            .expect("keys of ta"),
        a,
        "another tenant's rotation leaves a tenant's pair alone"
    );
    assert_eq!(
        store
            .signing_keys_or_init(pair("sig_x", "sig_y"))
            .await
            .expect("store-wide keys"),
        global,
        "a tenant's rotation leaves the store-wide pair alone"
    );
    match store
        .rotate_tenant_signing_keys("tc", "sig_c".to_string())
        .await
    {
        Err(StoreError::Invalid(_)) => {}
        other => panic!("rotating a tenant without keys must be Invalid, got {other:?}"),
    }
    assert_eq!(
        store
            .tenant_signing_keys_or_init("tc", pair("sig_c1", "sig_c2"))
            .await
            .expect("keys of tc"),
        pair("sig_c1", "sig_c2"),
        "a refused rotation stores nothing"
    );
}

/// Many first uses of one tenant at once store one pair, and every caller gets it.
pub async fn concurrent_tenant_signing_keys<S: Store>(store: Arc<S>) {
    const TASKS: usize = 16;
    let mut tasks = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store
                .tenant_signing_keys_or_init("tz", pair(&format!("sig_{i}a"), &format!("sig_{i}b")))
                .await
                .expect("keys of tz")
        }));
    }
    let mut seen = Vec::with_capacity(TASKS);
    for task in tasks {
        seen.push(task.await.expect("a task panicked"));
    }
    let first = seen[0].clone();
    assert!(
        seen.iter().all(|k| *k == first),
        "every first use gets the one stored pair"
    );
    assert_eq!(
        store
            .tenant_signing_keys_or_init("tz", pair("sig_x", "sig_y"))
            .await
            .expect("keys of tz"),
        first
    );
}

/// The first proposed pair is kept; rotation makes next current.
pub async fn signing_keys<S: Store>(store: &S) {
    let first = SigningKeys {
        current: "sig_one".to_string(),
        next: "sig_two".to_string(),
    };
    let second = SigningKeys {
        current: "sig_x".to_string(),
        next: "sig_y".to_string(),
    };
    assert_eq!(
        store
            .signing_keys_or_init(first.clone())
            .await
            .expect("keys"),
        first
    );
    assert_eq!(
        store.signing_keys_or_init(second).await.expect("keys"),
        first,
        "the first pair is kept"
    );
    let rotated = store
        .rotate_signing_keys("sig_three".to_string())
        .await
        .expect("rotate");
    let expected = SigningKeys {
        current: "sig_two".to_string(),
        next: "sig_three".to_string(),
    };
    assert_eq!(rotated, expected);
    assert_eq!(
        store.signing_keys_or_init(first).await.expect("keys"),
        expected,
        "rotation is stored"
    );
}
