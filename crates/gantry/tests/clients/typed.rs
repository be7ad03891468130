//! kube-rs typed `Api<ConfigMap>` / `Api<Deployment>`: create, get, list with label and field
//! selectors, pagination, replace with a stale resourceVersion, the four patch types, delete.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};

use crate::{namespace, start, status_code};

fn configmap(name: &str, labels: Value, data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": data}))
        .expect("configmap object")
}

fn names(list: &[ConfigMap]) -> Vec<String> {
    let mut names: Vec<String> = list.iter().map(|cm| cm.name_any()).collect();
    names.sort();
    names
}

async fn list_names(api: &Api<ConfigMap>, params: &ListParams) -> Vec<String> {
    let list = api
        .list(params)
        .await
        .unwrap_or_else(|e| panic!("listing configmaps with {params:?}: {e}"));
    names(&list.items)
}

#[tokio::test]
async fn typed_configmaps_create_get_list_selectors_replace_delete() {
    let (_server, client) = start().await;
    let ns = namespace(&client, "typed").await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
    let pp = PostParams::default();

    let created = api
        .create(
            &pp,
            &configmap(
                "web-front",
                json!({"app": "web", "tier": "front"}),
                json!({"k": "1"}),
            ),
        )
        .await
        .expect("create web-front");
    assert_eq!(created.metadata.namespace.as_deref(), Some(ns.as_str()));
    assert!(
        created.metadata.uid.is_some() && created.metadata.resource_version.is_some(),
        "server-owned metadata missing: {created:?}"
    );
    api.create(
        &pp,
        &configmap(
            "web-back",
            json!({"app": "web", "tier": "back"}),
            json!({"k": "2"}),
        ),
    )
    .await
    .expect("create web-back");
    api.create(
        &pp,
        &configmap("db", json!({"app": "db"}), json!({"k": "3"})),
    )
    .await
    .expect("create db");
    assert_eq!(
        status_code(
            api.create(&pp, &configmap("db", json!({}), json!({})))
                .await
        ),
        409,
        "creating an existing name"
    );

    let got = api.get("web-front").await.expect("get web-front");
    assert_eq!(
        got.data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("1")
    );
    assert_eq!(got.metadata.uid, created.metadata.uid);
    assert_eq!(
        api.get_opt("missing")
            .await
            .expect("get_opt of a missing name"),
        None
    );
    assert_eq!(status_code(api.get("missing").await), 404);

    // Label selectors: equality, inequality, set-based, existence; field selectors.
    let all = ["db", "web-back", "web-front"];
    assert_eq!(list_names(&api, &ListParams::default()).await, all);
    assert_eq!(
        list_names(&api, &ListParams::default().labels("app=web")).await,
        ["web-back", "web-front"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().labels("app=web,tier!=back")).await,
        ["web-front"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().labels("app in (db,cache)")).await,
        ["db"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().labels("!tier")).await,
        ["db"]
    );
    assert_eq!(
        list_names(&api, &ListParams::default().labels("tier")).await,
        ["web-back", "web-front"]
    );
    assert_eq!(
        list_names(
            &api,
            &ListParams::default().fields("metadata.name=web-back")
        )
        .await,
        ["web-back"]
    );
    assert_eq!(
        list_names(
            &api,
            &ListParams::default()
                .fields("metadata.name!=db")
                .labels("app=web")
        )
        .await,
        ["web-back", "web-front"]
    );
    let everywhere: Api<ConfigMap> = Api::all(client.clone());
    let in_ns = ListParams::default().fields(&format!("metadata.namespace={ns}"));
    assert_eq!(list_names(&everywhere, &in_ns).await, all);
    assert_eq!(
        status_code(api.list(&ListParams::default().fields("data.k=1")).await),
        400,
        "unsupported field selector"
    );

    // Replace: the current resourceVersion wins, the stale one gets 409 Conflict.
    let mut fresh = got.clone();
    fresh.data = Some([("k".to_string(), "changed".to_string())].into());
    let replaced = api
        .replace("web-front", &pp, &fresh)
        .await
        .expect("replace with the current resourceVersion");
    assert_ne!(replaced.resource_version(), got.resource_version());
    let mut stale = got.clone();
    stale.data = Some([("k".to_string(), "stale".to_string())].into());
    assert_eq!(
        status_code(api.replace("web-front", &pp, &stale).await),
        409,
        "replace with a stale resourceVersion"
    );
    let now = api.get("web-front").await.expect("get after the conflict");
    assert_eq!(
        now.data
            .as_ref()
            .and_then(|d| d.get("k"))
            .map(String::as_str),
        Some("changed"),
        "a rejected write changed the object"
    );

    // Delete: the object is returned, then it is gone; deleting again is 404.
    let deleted = api
        .delete("db", &DeleteParams::default())
        .await
        .expect("delete db");
    assert!(
        deleted.left().is_some_and(|cm| cm.name_any() == "db"),
        "delete did not return the object"
    );
    assert_eq!(status_code(api.get("db").await), 404);
    assert_eq!(
        status_code(api.delete("db", &DeleteParams::default()).await),
        404
    );
    assert_eq!(
        list_names(&api, &ListParams::default()).await,
        ["web-back", "web-front"]
    );
}

#[tokio::test]
async fn typed_list_pagination_with_limit_and_continue() {
    let (_server, client) = start().await;
    let ns = namespace(&client, "pages").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let expected: Vec<String> = (0..7).map(|i| format!("cm-{i}")).collect();
    for name in &expected {
        api.create(
            &PostParams::default(),
            &configmap(name, json!({"page": "yes"}), json!({})),
        )
        .await
        .expect("create page item");
    }

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = ListParams::default().labels("page=yes").limit(3);
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await.expect("list one page");
        pages += 1;
        assert!(
            page.items.len() <= 3,
            "page {pages} has {} items, limit was 3",
            page.items.len()
        );
        seen.extend(page.items.iter().map(|cm| cm.name_any()));
        // Upstream leaves remainingItemCount unset when the list is filtered by a selector.
        assert_eq!(
            page.metadata.remaining_item_count, None,
            "remainingItemCount of a filtered page"
        );
        match page.metadata.continue_.filter(|t| !t.is_empty()) {
            Some(next) => token = Some(next),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(pages, 3);
    seen.sort();
    assert_eq!(seen, expected);

    // Unfiltered pages count what is left; metadata-only lists page the same way.
    let first = api
        .list(&ListParams::default().limit(3))
        .await
        .expect("first unfiltered page");
    assert_eq!(
        first.metadata.remaining_item_count,
        Some(4),
        "remainingItemCount of an unfiltered page"
    );
    let token = first
        .metadata
        .continue_
        .expect("continue token of the first page");
    let second = api
        .list_metadata(&ListParams::default().limit(3).continue_token(&token))
        .await
        .expect("list_metadata with a continue token");
    assert_eq!(
        second
            .items
            .iter()
            .map(|m| m.name_any())
            .collect::<Vec<_>>(),
        ["cm-3", "cm-4", "cm-5"],
        "pages in name order"
    );
    assert_eq!(second.metadata.remaining_item_count, Some(1));
    let meta = api
        .list_metadata(&ListParams::default().limit(2))
        .await
        .expect("list_metadata with a limit");
    assert_eq!(meta.items.len(), 2);
    assert!(
        meta.metadata.continue_.is_some_and(|t| !t.is_empty()),
        "metadata list page without a continue token"
    );
}

fn deployment(name: &str) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [
                    {"name": "app", "image": "nginx:1.25", "env": [{"name": "A", "value": "1"}]},
                    {"name": "sidecar", "image": "busybox:1.36"}
                ]}
            }
        }
    }))
    .expect("deployment object")
}

fn containers(d: &Deployment) -> Vec<(String, String)> {
    let spec = d
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod template spec");
    spec.containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect()
}

#[tokio::test]
async fn typed_patches_merge_json_strategic_and_server_side_apply() {
    let (_server, client) = start().await;
    let ns = namespace(&client, "patches").await;
    patch_configmap(&client, &ns).await;
    patch_deployment(&client, &ns).await;
}

async fn patch_configmap(client: &Client, ns: &str) {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    api.create(
        &PostParams::default(),
        &configmap("cfg", json!({"a": "1"}), json!({"x": "1", "y": "2"})),
    )
    .await
    .expect("create cfg");
    let pp = PatchParams::default();

    // JSON merge patch: null removes a key.
    let merged = api
        .patch(
            "cfg",
            &pp,
            &Patch::Merge(json!({"data": {"y": null, "z": "3"}})),
        )
        .await
        .expect("merge patch");
    assert_eq!(
        merged.data,
        Some([("x".into(), "1".into()), ("z".into(), "3".into())].into())
    );

    // JSON patch (RFC 6902): a passing test op applies, a failing one rejects the whole patch.
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/x", "value": "1"},
        {"op": "replace", "path": "/data/x", "value": "10"},
        {"op": "add", "path": "/metadata/labels/b", "value": "2"}
    ]))
    .expect("json patch");
    let patched = api
        .patch("cfg", &pp, &Patch::Json::<()>(ops))
        .await
        .expect("json patch");
    assert_eq!(
        patched
            .data
            .as_ref()
            .and_then(|d| d.get("x"))
            .map(String::as_str),
        Some("10")
    );
    assert_eq!(patched.labels().get("b").map(String::as_str), Some("2"));
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/x", "value": "nope"}, {"op": "remove", "path": "/data/x"}])).expect("json patch");
    let code = status_code(api.patch("cfg", &pp, &Patch::Json::<()>(failing)).await);
    assert_eq!(
        code, 422,
        "a failing test op (upstream: 422 Unprocessable Entity)"
    );

    // Server-side apply: two managers, a conflict naming the owner, then force.
    let mine = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"owned": "by-a"}});
    let applied = api
        .patch(
            "cfg",
            &PatchParams::apply("manager-a"),
            &Patch::Apply(&mine),
        )
        .await
        .expect("server-side apply by manager-a");
    assert_eq!(
        applied
            .data
            .as_ref()
            .and_then(|d| d.get("owned"))
            .map(String::as_str),
        Some("by-a")
    );
    let managers: Vec<String> = applied
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.iter().any(|m| m == "manager-a"),
        "managedFields lack manager-a: {managers:?}"
    );
    let theirs = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"}, "data": {"owned": "by-b"}});
    match api
        .patch(
            "cfg",
            &PatchParams::apply("manager-b"),
            &Patch::Apply(&theirs),
        )
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409, "conflicting apply: {status:?}");
            assert!(
                status.message.contains("manager-a"),
                "the conflict does not name the owner: {}",
                status.message
            );
        }
        other => panic!("a conflicting apply by manager-b should get 409, got {other:?}"),
    }
    let forced = api
        .patch(
            "cfg",
            &PatchParams::apply("manager-b").force(),
            &Patch::Apply(&theirs),
        )
        .await
        .expect("forced apply");
    assert_eq!(
        forced
            .data
            .as_ref()
            .and_then(|d| d.get("owned"))
            .map(String::as_str),
        Some("by-b")
    );

    assert!(
        api.delete("cfg", &DeleteParams::default())
            .await
            .expect("delete cfg")
            .is_left()
    );
}

async fn patch_deployment(client: &Client, ns: &str) {
    let api: Api<Deployment> = Api::namespaced(client.clone(), ns);
    let created = api
        .create(&PostParams::default(), &deployment("web"))
        .await
        .expect("create deployment");
    assert_eq!(created.metadata.generation, Some(1));
    let pp = PatchParams::default();

    // Strategic merge: containers merge by name, so the sidecar stays; env merges by name.
    let smp = json!({"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1.27", "env": [{"name": "B", "value": "2"}]}
    ]}}}});
    let patched = api
        .patch("web", &pp, &Patch::Strategic(&smp))
        .await
        .expect("strategic merge patch");
    assert_eq!(
        containers(&patched),
        [
            ("app".to_string(), "nginx:1.27".to_string()),
            ("sidecar".to_string(), "busybox:1.36".to_string())
        ]
    );
    let app = &patched
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .expect("pod spec")
        .containers[0];
    let mut env: Vec<&str> = app.env.iter().flatten().map(|e| e.name.as_str()).collect();
    env.sort();
    assert_eq!(env, ["A", "B"], "env merges by name");
    assert_eq!(
        patched.metadata.generation,
        Some(2),
        "a spec change bumps generation"
    );

    // The same change as a merge patch replaces the whole list.
    let merge = json!({"spec": {"template": {"spec": {"containers": [{"name": "only", "image": "nginx:1.27"}]}}}});
    let replaced = api
        .patch("web", &pp, &Patch::Merge(&merge))
        .await
        .expect("merge patch of a deployment");
    assert_eq!(
        containers(&replaced),
        [("only".to_string(), "nginx:1.27".to_string())]
    );

    // Server-side apply of a partial deployment by a field manager.
    let apply = json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "only", "image": "nginx:1.28"}]}}}
    });
    // The fields were set by updates (create and patches, no fieldManager given): applying other
    // values conflicts with that manager, as upstream; force takes them over.
    match api
        .patch(
            "web",
            &PatchParams::apply("clients-test"),
            &Patch::Apply(&apply),
        )
        .await
    {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409, "{status:?}");
            let fields: Vec<String> = status
                .details
                .iter()
                .flat_map(|d| d.causes.iter().map(|c| c.field.clone()))
                .collect();
            assert!(
                fields.iter().any(|f| f == ".spec.replicas"),
                "conflict causes lack .spec.replicas: {fields:?}"
            );
        }
        other => panic!("applying values another manager set should get 409, got {other:?}"),
    }
    let force = PatchParams::apply("clients-test").force();
    let applied = api
        .patch("web", &force, &Patch::Apply(&apply))
        .await
        .expect("forced server-side apply of a deployment");
    assert_eq!(applied.spec.as_ref().and_then(|s| s.replicas), Some(3));
    assert_eq!(
        containers(&applied),
        [("only".to_string(), "nginx:1.28".to_string())]
    );
    assert!(
        applied
            .managed_fields()
            .iter()
            .any(|m| m.manager.as_deref() == Some("clients-test")
                && m.operation.as_deref() == Some("Apply"))
    );

    api.delete("web", &DeleteParams::default())
        .await
        .expect("delete deployment");
    crate::eventually(
        "the deployment is gone",
        crate::harness::DEADLINE,
        || async {
            api.get_opt("web")
                .await
                .expect("get_opt deployment")
                .is_none()
                .then_some(())
        },
    )
    .await;
}
