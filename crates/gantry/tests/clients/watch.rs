//! kube-runtime watchers against gantry: `watcher` in list-then-watch mode and in the watch-list
//! mode (`streaming_lists`: `sendInitialEvents=true`, ended by the initial-events-end bookmark),
//! and the metadata watcher (`watcher` over `Api<PartialObjectMeta<K>>`: PartialObjectMetadata
//! lists and watches).

use std::collections::BTreeSet;
use std::fmt::Debug;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::core::PartialObjectMeta;
use kube::runtime::watcher as watch_stream;
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::{namespace, start, within};

fn configmap(name: &str, labelled: bool) -> ConfigMap {
    let labels = if labelled {
        json!({"watch": "yes"})
    } else {
        json!({})
    };
    serde_json::from_value(
        json!({"metadata": {"name": name, "labels": labels}, "data": {"v": "0"}}),
    )
    .expect("configmap object")
}

/// What one watcher event was, reduced to what the assertions compare.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Init,
    InitApply(String),
    InitDone,
    Apply(String),
    Delete(String),
}

/// The next event of `stream`; panics on an error, the end of the stream or the deadline.
async fn next<K, S>(stream: &mut S, waiting_for: &str) -> Event<K>
where
    K: Debug,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    match within(&format!("watcher event: {waiting_for}"), stream.next()).await {
        Some(Ok(event)) => event,
        Some(Err(e)) => panic!("watcher error while waiting for {waiting_for}: {e:?}"),
        None => panic!("watcher stream ended while waiting for {waiting_for}"),
    }
}

fn seen<K: Resource>(event: &Event<K>) -> Seen {
    match event {
        Event::Init => Seen::Init,
        Event::InitApply(o) => Seen::InitApply(o.name_any()),
        Event::InitDone => Seen::InitDone,
        Event::Apply(o) => Seen::Apply(o.name_any()),
        Event::Delete(o) => Seen::Delete(o.name_any()),
    }
}

/// Reads the initial listing: Init, one InitApply per expected name (any order), InitDone.
async fn initial<K, S>(stream: &mut S, expected: &[&str])
where
    K: Resource + Debug,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Unpin,
{
    assert_eq!(seen(&next(stream, "Init").await), Seen::Init);
    let mut names = BTreeSet::new();
    for _ in expected {
        match seen(&next(stream, "InitApply").await) {
            Seen::InitApply(name) => assert!(names.insert(name.clone()), "{name} listed twice"),
            other => panic!(
                "expected InitApply for one of {expected:?}, got {other:?} (listed so far: {names:?})"
            ),
        }
    }
    assert_eq!(
        names,
        expected
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(
        seen(&next(stream, "InitDone").await),
        Seen::InitDone,
        "after listing {names:?}"
    );
}

/// Lists two labelled configmaps, then sees a change, a creation and a deletion, in order,
/// while a change to an unlabelled configmap is filtered out by the label selector.
async fn watch_scenario(config: watcher::Config, ns_name: &str) {
    let (server, client) = start().await;
    let ns = namespace(&client, ns_name).await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    for (name, labelled) in [("w1", true), ("w2", true), ("other", false)] {
        api.create(&pp, &configmap(name, labelled))
            .await
            .expect("create configmap");
    }

    let mut stream = watch_stream(api.clone(), config.labels("watch=yes")).boxed();
    initial(&mut stream, &["w1", "w2"]).await;

    let change = Patch::Merge(json!({"data": {"v": "1"}}));
    api.patch("w1", &PatchParams::default(), &change)
        .await
        .expect("patch w1");
    match next(&mut stream, "Apply(w1)").await {
        Event::Apply(cm) => {
            assert_eq!(cm.name_any(), "w1");
            assert_eq!(
                cm.data
                    .as_ref()
                    .and_then(|d| d.get("v"))
                    .map(String::as_str),
                Some("1"),
                "the watch event carries the new object"
            );
        }
        other => panic!("expected Apply(w1), got {:?}", seen(&other)),
    }
    api.patch("other", &PatchParams::default(), &change)
        .await
        .expect("patch the unlabelled configmap");
    api.create(&pp, &configmap("w3", true))
        .await
        .expect("create w3");
    assert_eq!(
        seen(&next(&mut stream, "Apply(w3)").await),
        Seen::Apply("w3".into()),
        "the unlabelled change must not be seen"
    );
    api.delete("w2", &DeleteParams::default())
        .await
        .expect("delete w2");
    assert_eq!(
        seen(&next(&mut stream, "Delete(w2)").await),
        Seen::Delete("w2".into())
    );
    drop(server);
}

#[tokio::test]
async fn watcher_list_then_watch() {
    watch_scenario(watcher::Config::default(), "watch-list-then-watch").await;
}

#[tokio::test]
async fn watcher_streaming_lists_send_initial_events() {
    watch_scenario(
        watcher::Config::default().streaming_lists(),
        "watch-streaming",
    )
    .await;
}

#[tokio::test]
async fn watcher_paged_initial_list() {
    // page_size 1 makes the initial list three pages long (continue tokens inside the watcher).
    let (_server, client) = start().await;
    let ns = namespace(&client, "watch-paged").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    for name in ["p1", "p2", "p3"] {
        api.create(&PostParams::default(), &configmap(name, true))
            .await
            .expect("create configmap");
    }
    let mut stream = watch_stream(api.clone(), watcher::Config::default().page_size(1)).boxed();
    initial(&mut stream, &["p1", "p2", "p3"]).await;
    api.delete("p1", &DeleteParams::default())
        .await
        .expect("delete p1");
    assert_eq!(
        seen(&next(&mut stream, "Delete(p1)").await),
        Seen::Delete("p1".into())
    );
}

#[tokio::test]
async fn metadata_watcher_sees_partial_object_metadata() {
    let (_server, client) = start().await;
    let ns = namespace(&client, "watch-metadata").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    api.create(&PostParams::default(), &configmap("m1", true))
        .await
        .expect("create m1");

    // kube 5's metadata watcher: `metadata_watcher` is deprecated in favour of `watcher` over
    // `Api<PartialObjectMeta<K>>`, which sends `Accept: ...;as=PartialObjectMetadata[List]`.
    let meta_api: Api<PartialObjectMeta<ConfigMap>> =
        Api::namespaced(api.clone().into_client(), &ns);
    let mut stream = watch_stream(meta_api, watcher::Config::default().labels("watch=yes")).boxed();
    assert_eq!(seen(&next(&mut stream, "Init").await), Seen::Init);
    match next(&mut stream, "InitApply(m1)").await {
        Event::InitApply(meta) => {
            assert_eq!(meta.name_any(), "m1");
            assert_eq!(meta.labels().get("watch").map(String::as_str), Some("yes"));
            assert!(
                meta.metadata.uid.is_some() && meta.metadata.resource_version.is_some(),
                "metadata incomplete: {meta:?}"
            );
            let types = meta
                .types
                .as_ref()
                .expect("PartialObjectMetadata carries apiVersion and kind");
            assert_eq!(
                (types.api_version.as_str(), types.kind.as_str()),
                ("meta.k8s.io/v1", "PartialObjectMetadata")
            );
        }
        other => panic!("expected InitApply(m1), got {:?}", seen(&other)),
    }
    assert_eq!(seen(&next(&mut stream, "InitDone").await), Seen::InitDone);

    let annotate =
        Patch::Merge(json!({"metadata": {"annotations": {"seen-by": "metadata-watcher"}}}));
    api.patch("m1", &PatchParams::default(), &annotate)
        .await
        .expect("annotate m1");
    match next(&mut stream, "Apply(m1) with the annotation").await {
        Event::Apply(meta) => assert_eq!(
            meta.annotations().get("seen-by").map(String::as_str),
            Some("metadata-watcher")
        ),
        other => panic!("expected Apply(m1), got {:?}", seen(&other)),
    }
    api.delete("m1", &DeleteParams::default())
        .await
        .expect("delete m1");
    assert_eq!(
        seen(&next(&mut stream, "Delete(m1)").await),
        Seen::Delete("m1".into())
    );
}
