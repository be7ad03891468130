//! kube-rs discovery (`Discovery::run`, `run_aggregated`, `pinned_kind`) and the dynamic
//! `Api<DynamicObject>`: built-in kinds resolved through discovery, and a CustomResourceDefinition
//! created at run time, awaited in discovery, used through the dynamic API, then deleted.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, ApiCapabilities, ApiResource, Discovery, Scope, verbs};
use kube::{Client, ResourceExt};
use serde_json::json;

use crate::harness::DEADLINE;
use crate::{eventually, namespace, start, status_code};

fn resolve(
    discovery: &Discovery,
    group: &str,
    version: &str,
    kind: &str,
) -> (ApiResource, ApiCapabilities) {
    let gvk = GroupVersionKind::gvk(group, version, kind);
    discovery
        .resolve_gvk(&gvk)
        .unwrap_or_else(|| panic!("discovery does not know {gvk:?}"))
}

#[tokio::test]
async fn discovery_and_dynamic_api_for_builtin_kinds() {
    let (_server, client) = start().await;
    let ns = namespace(&client, "dynamic").await;

    let legacy = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery through /api and /apis");
    let aggregated = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .expect("aggregated discovery");
    for d in [&legacy, &aggregated] {
        for group in [
            "",
            "apps",
            "batch",
            "apiextensions.k8s.io",
            "coordination.k8s.io",
        ] {
            assert!(d.has_group(group), "discovery lacks group {group:?}");
        }
        let (cm, caps) = resolve(d, "", "v1", "ConfigMap");
        assert_eq!(
            (cm.plural.as_str(), caps.scope.clone()),
            ("configmaps", Scope::Namespaced)
        );
        for verb in [
            verbs::CREATE,
            verbs::GET,
            verbs::LIST,
            verbs::WATCH,
            verbs::PATCH,
            verbs::DELETE,
        ] {
            assert!(
                caps.supports_operation(verb),
                "configmaps lack verb {verb}: {:?}",
                caps.operations
            );
        }
        let (_, ns_caps) = resolve(d, "", "v1", "Namespace");
        assert_eq!(ns_caps.scope, Scope::Cluster);
        let (deploy, deploy_caps) = resolve(d, "apps", "v1", "Deployment");
        assert_eq!(deploy.plural, "deployments");
        let subresources: Vec<&str> = deploy_caps
            .subresources
            .iter()
            .map(|(ar, _)| ar.plural.as_str())
            .collect();
        assert!(
            subresources.contains(&"status") && subresources.contains(&"scale"),
            "deployment subresources: {subresources:?}"
        );
        assert_eq!(
            d.get("apps")
                .map(|g| g.preferred_version_or_latest().to_string())
                .as_deref(),
            Some("v1")
        );
    }

    // A ConfigMap and a Deployment through the dynamic API, with the resources discovery found.
    let (cm_ar, _) = resolve(&legacy, "", "v1", "ConfigMap");
    let cms: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &cm_ar);
    let obj = DynamicObject::new("dyn", &cm_ar).data(json!({"data": {"k": "v"}}));
    let created = cms
        .create(&PostParams::default(), &obj)
        .await
        .expect("dynamic create");
    assert_eq!(created.data["data"]["k"], "v");
    assert_eq!(
        created.types.as_ref().map(|t| t.kind.as_str()),
        Some("ConfigMap")
    );
    let listed = cms
        .list(&ListParams::default())
        .await
        .expect("dynamic list");
    assert_eq!(
        listed
            .items
            .iter()
            .map(|o| o.name_any())
            .collect::<Vec<_>>(),
        ["dyn"]
    );

    let (deploy_ar, _) = resolve(&aggregated, "apps", "v1", "Deployment");
    let deploys: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &deploy_ar);
    let deploy = DynamicObject::new("dyn-web", &deploy_ar).data(json!({"spec": {
        "selector": {"matchLabels": {"app": "dyn-web"}},
        "template": {"metadata": {"labels": {"app": "dyn-web"}}, "spec": {"containers": [{"name": "c", "image": "nginx"}]}}
    }}));
    let created = deploys
        .create(&PostParams::default(), &deploy)
        .await
        .expect("dynamic create of a deployment");
    assert_eq!(
        created.data["spec"]["replicas"], 1,
        "defaults applied to a dynamic create"
    );
    deploys
        .delete("dyn-web", &DeleteParams::default())
        .await
        .expect("dynamic delete of a deployment");
    cms.delete("dyn", &DeleteParams::default())
        .await
        .expect("dynamic delete");
    assert_eq!(status_code(cms.get("dyn").await), 404);
}

fn widget_crd() -> CustomResourceDefinition {
    serde_json::from_value(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.clients.example.com"},
        "spec": {
            "group": "clients.example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "shortNames": ["wd"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "subresources": {"status": {}},
                "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                    "spec": {"type": "object", "properties": {
                        "size": {"type": "integer"},
                        "colour": {"type": "string", "default": "blue"}
                    }},
                    "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}}
                }}}
            }]
        }
    }))
    .expect("crd object")
}

async fn established(crds: &Api<CustomResourceDefinition>, name: &str) -> Option<()> {
    let crd = crds.get(name).await.ok()?;
    let conditions = crd.status?.conditions?;
    conditions
        .iter()
        .any(|c| c.type_ == "Established" && c.status == "True")
        .then_some(())
}

#[tokio::test]
async fn custom_resource_through_discovery_and_dynamic_api() {
    let (_server, client) = start().await;
    let ns = namespace(&client, "widgets").await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &widget_crd())
        .await
        .expect("create the CRD");
    eventually("the CRD is Established", DEADLINE, || {
        established(&crds, "widgets.clients.example.com")
    })
    .await;

    let gvk = GroupVersionKind::gvk("clients.example.com", "v1", "Widget");
    let (ar, caps) = eventually("Widget appears in discovery", DEADLINE, || {
        pinned(&client, &gvk)
    })
    .await;
    assert_eq!(
        (ar.plural.as_str(), caps.scope.clone()),
        ("widgets", Scope::Namespaced)
    );
    assert!(
        caps.subresources.iter().any(|(s, _)| s.plural == "status"),
        "no status subresource: {:?}",
        caps.subresources
    );
    let full = Discovery::new(client.clone())
        .run()
        .await
        .expect("discovery after the CRD");
    let (found, _) = resolve(&full, "clients.example.com", "v1", "Widget");
    assert_eq!(found.plural, "widgets");

    let widgets: Api<DynamicObject> = Api::namespaced_with(client.clone(), &ns, &ar);
    let widget =
        DynamicObject::new("w1", &ar).data(json!({"spec": {"size": 3, "unknownField": true}}));
    let created = widgets
        .create(&PostParams::default(), &widget)
        .await
        .expect("create a widget");
    assert_eq!(created.data["spec"]["size"], 3);
    assert_eq!(
        created.data["spec"]["colour"], "blue",
        "structural default applied"
    );
    assert!(
        created.data["spec"].get("unknownField").is_none(),
        "unknown field not pruned: {}",
        created.data
    );
    let mut labelled = DynamicObject::new("w2", &ar).data(json!({"spec": {"size": 5}}));
    labelled.labels_mut().insert("tier".into(), "gold".into());
    widgets
        .create(&PostParams::default(), &labelled)
        .await
        .expect("create a labelled widget");

    let gold = widgets
        .list(&ListParams::default().labels("tier=gold"))
        .await
        .expect("list widgets by label");
    assert_eq!(
        gold.items.iter().map(|o| o.name_any()).collect::<Vec<_>>(),
        ["w2"]
    );
    let patched = widgets
        .patch(
            "w1",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"size": 4}})),
        )
        .await
        .expect("merge patch a widget");
    assert_eq!(patched.data["spec"]["size"], 4);
    let status = Patch::Merge(json!({"status": {"ready": true}, "spec": {"size": 99}}));
    let with_status = widgets
        .patch_status("w1", &PatchParams::default(), &status)
        .await
        .expect("patch the status subresource");
    assert_eq!(with_status.data["status"]["ready"], true);
    assert_eq!(
        with_status.data["spec"]["size"], 4,
        "the status subresource must ignore spec changes"
    );
    let applied = json!({"apiVersion": "clients.example.com/v1", "kind": "Widget", "metadata": {"name": "w1"}, "spec": {"colour": "red"}});
    // spec.colour was defaulted at create, so the creating manager owns it: force, as upstream needs.
    let force = PatchParams::apply("clients-test").force();
    let applied = widgets
        .patch("w1", &force, &Patch::Apply(&applied))
        .await
        .expect("server-side apply of a widget");
    let managers: Vec<_> = applied
        .managed_fields()
        .iter()
        .filter_map(|m| m.manager.clone())
        .collect();
    assert!(
        managers.iter().any(|m| m == "clients-test"),
        "managedFields lack clients-test: {managers:?}"
    );
    assert_eq!(
        (
            applied.data["spec"]["colour"].as_str(),
            applied.data["spec"]["size"].as_i64()
        ),
        (Some("red"), Some(4))
    );

    widgets
        .delete("w1", &DeleteParams::default())
        .await
        .expect("delete a widget");
    assert_eq!(status_code(widgets.get("w1").await), 404);

    // Deleting the CRD deletes its objects and removes the kind from discovery.
    crds.delete("widgets.clients.example.com", &DeleteParams::default())
        .await
        .expect("delete the CRD");
    eventually("Widget leaves discovery", DEADLINE, || async {
        pinned(&client, &gvk).await.is_none().then_some(())
    })
    .await;
    eventually("the CRD is gone", DEADLINE, || async {
        crds.get_opt("widgets.clients.example.com")
            .await
            .ok()?
            .is_none()
            .then_some(())
    })
    .await;
}

async fn pinned(client: &Client, gvk: &GroupVersionKind) -> Option<(ApiResource, ApiCapabilities)> {
    discovery::pinned_kind(client, gvk).await.ok()
}
