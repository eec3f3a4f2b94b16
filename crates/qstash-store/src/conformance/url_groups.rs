//! Checks of URL groups: adding endpoints creates the group, an endpoint with a known URL or
//! name replaces it, removal by name or URL, list and delete, tenants apart.

use crate::{EndpointMatch, Store, UrlGroupEndpoint};

use super::T0;

fn endpoint(name: Option<&str>, url: &str) -> UrlGroupEndpoint {
    UrlGroupEndpoint {
        name: name.map(str::to_owned),
        url: url.to_owned(),
    }
}

/// Endpoints added, replaced, removed; groups listed by name, deleted; another tenant sees
/// nothing.
pub async fn url_groups_add_remove_list_delete<S: Store>(store: &S) {
    assert_eq!(store.get_url_group("t1", "g").await.expect("get"), None);
    let g = store
        .add_url_group_endpoints(
            "t1",
            "g",
            vec![
                endpoint(Some("a"), "https://a.example/"),
                endpoint(None, "https://b.example/"),
            ],
            T0,
        )
        .await
        .expect("add");
    assert_eq!((g.created_at, g.updated_at), (T0, T0));
    assert_eq!(g.endpoints.len(), 2);
    let g = store
        .add_url_group_endpoints(
            "t1",
            "g",
            vec![
                endpoint(Some("b"), "https://b.example/"),
                endpoint(None, "https://c.example/"),
            ],
            T0 + 1,
        )
        .await
        .expect("add");
    assert_eq!(
        g.endpoints,
        [
            endpoint(Some("a"), "https://a.example/"),
            endpoint(Some("b"), "https://b.example/"),
            endpoint(None, "https://c.example/"),
        ],
        "a known URL is replaced in its place, a new one appended"
    );
    assert_eq!(
        store.get_url_group("t1", "g").await.expect("get"),
        Some(g.clone())
    );
    assert_eq!(g.created_at, T0);
    assert_eq!(g.updated_at, T0 + 1);

    let g = store
        .remove_url_group_endpoints(
            "t1",
            "g",
            vec![
                EndpointMatch {
                    name: Some("a".into()),
                    url: None,
                },
                EndpointMatch {
                    name: None,
                    url: Some("https://c.example/".into()),
                },
            ],
            T0 + 2,
        )
        .await
        .expect("remove")
        .expect("the group exists");
    assert_eq!(g.endpoints, [endpoint(Some("b"), "https://b.example/")]);
    assert_eq!(
        store
            .remove_url_group_endpoints("t2", "g", Vec::new(), T0 + 2)
            .await
            .expect("remove"),
        None,
        "another tenant's group is not there"
    );

    store
        .add_url_group_endpoints("t1", "a-first", vec![endpoint(None, "https://x/")], T0)
        .await
        .expect("add");
    let names: Vec<String> = store
        .list_url_groups("t1")
        .await
        .expect("list")
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["a-first", "g"]);
    assert!(store.list_url_groups("t2").await.expect("list").is_empty());
    assert_eq!(store.get_url_group("t2", "g").await.expect("get"), None);
    assert!(!store.delete_url_group("t2", "g").await.expect("delete"));
    assert!(store.delete_url_group("t1", "g").await.expect("delete"));
    assert!(!store.delete_url_group("t1", "g").await.expect("delete"));
    assert_eq!(store.get_url_group("t1", "g").await.expect("get"), None);
}
