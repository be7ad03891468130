//! The EndpointSlice controller: for every Service with a selector, discovery.k8s.io/v1
//! EndpointSlices (labels `kubernetes.io/service-name` and `endpointslice.kubernetes.io/managed-by:
//! endpointslice-controller.k8s.io`, owned by the Service) with one endpoint per backend pod
//! (ready / serving / terminating conditions, nodeName, targetRef), one slice per distinct port
//! set, named deterministically so reconciles converge; stale managed slices are deleted.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Pod, Service};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointConditions, EndpointPort, EndpointSlice};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};

use crate::endpoints::{self, Backend, Error};
use crate::pod_informer::PodInformer;

pub const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
pub const CONTROLLER_NAME: &str = "endpointslice-controller.k8s.io";
pub const SERVICE_NAME: &str = "kubernetes.io/service-name";

/// The slices a service should have: name → (ports, endpoints), one per distinct port set.
pub fn desired_slices(
    service_name: &str,
    backends: &[Backend],
) -> BTreeMap<String, (Vec<EndpointPort>, Vec<Endpoint>)> {
    let mut out: BTreeMap<String, (Vec<EndpointPort>, Vec<Endpoint>)> = BTreeMap::new();
    for b in backends {
        let ports: Vec<EndpointPort> = b
            .ports
            .iter()
            .map(|p| EndpointPort {
                name: p.name.clone(),
                port: Some(p.port),
                protocol: p.protocol.clone(),
                app_protocol: p.app_protocol.clone(),
            })
            .collect();
        let mut h = DefaultHasher::new();
        serde_json::to_string(&ports)
            .unwrap_or_default()
            .hash(&mut h);
        let name = format!("{service_name}-{:08x}", h.finish() as u32);
        let endpoint = Endpoint {
            addresses: vec![b.ip.clone()],
            conditions: Some(EndpointConditions {
                ready: Some(b.ready),
                serving: Some(b.serving),
                terminating: Some(b.terminating),
            }),
            node_name: b.node_name.clone(),
            target_ref: Some(b.target_ref.clone()),
            ..Default::default()
        };
        out.entry(name)
            .or_insert_with(|| (ports, Vec::new()))
            .1
            .push(endpoint);
    }
    out
}

struct Ctx {
    client: kube::Client,
    pods: Store<Pod>,
    slices: Store<EndpointSlice>,
}

/// The EndpointSlice controller's main loop.
pub async fn run(client: kube::Client, informer: PodInformer) {
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let (pods, triggers) = endpoints::pod_triggers(&informer, controller.store());
    let (slices, writer) = reflector::store();
    let managed = watcher::Config::default().labels(&format!("{MANAGED_BY}={CONTROLLER_NAME}"));
    let slice_stream = reflector::reflector(
        writer,
        watcher(Api::<EndpointSlice>::all(client.clone()), managed),
    )
    .default_backoff()
    .touched_objects();
    let ctx = Arc::new(Ctx {
        client,
        pods,
        slices,
    });
    controller
        .reconcile_on(triggers)
        .watches_stream(slice_stream, |s: EndpointSlice| {
            let ns = s.namespace()?;
            s.labels()
                .get(SERVICE_NAME)
                .map(|svc| ObjectRef::<Service>::new(svc).within(&ns))
        })
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(service: Arc<Service>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(controller = "endpointslice", service = service.name_any(), %error, "reconcile failed");
    Action::requeue(Duration::from_secs(2))
}

async fn reconcile(service: Arc<Service>, ctx: Arc<Ctx>) -> Result<Action, Error> {
    if service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .is_none_or(|s| s.is_empty())
    {
        return Ok(Action::await_change());
    }
    if gantry_informer::ready(&ctx.pods).await.is_err()
        || gantry_informer::ready(&ctx.slices).await.is_err()
    {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let name = service.name_any();
    let ns = service.namespace().unwrap_or_default();
    let pods = ctx.pods.state();
    let backends = endpoints::backends(&service, pods.iter().map(|p| &**p));
    let mut desired = desired_slices(&name, &backends);
    if desired.is_empty() {
        // A service without backends keeps one empty slice, as upstream does.
        desired.insert(format!("{name}-empty"), (Vec::new(), Vec::new()));
    }
    let api: Api<EndpointSlice> = Api::namespaced(ctx.client.clone(), &ns);
    let err = |step| {
        let name = name.clone();
        move |source| Error::Api { step, name, source }
    };
    let existing: Vec<Arc<EndpointSlice>> = ctx
        .slices
        .state()
        .into_iter()
        .filter(|s| {
            s.namespace().as_deref() == Some(ns.as_str())
                && s.labels().get(SERVICE_NAME) == Some(&name)
        })
        .collect();
    for stale in existing
        .iter()
        .filter(|s| !desired.contains_key(&s.name_any()))
    {
        match api
            .delete(&stale.name_any(), &DeleteParams::default())
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => return Err(err("deleting stale endpointslice")(e)),
        }
    }
    for (slice_name, (ports, endpoints)) in desired {
        let mut labels = service.labels().clone();
        labels.insert(SERVICE_NAME.into(), name.clone());
        labels.insert(MANAGED_BY.into(), CONTROLLER_NAME.into());
        let mut slice = EndpointSlice {
            metadata: ObjectMeta {
                name: Some(slice_name.clone()),
                namespace: Some(ns.clone()),
                labels: Some(labels),
                owner_references: endpoints::service_owner(&service).map(|o| vec![o]),
                ..Default::default()
            },
            address_type: "IPv4".into(),
            endpoints,
            ports: Some(ports),
        };
        match existing.iter().find(|s| s.name_any() == slice_name) {
            None => match api.create(&PostParams::default(), &slice).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 409 => {}
                Err(e) => return Err(err("creating endpointslice")(e)),
            },
            Some(current) => {
                let same = current.endpoints == slice.endpoints
                    && current.ports.clone().unwrap_or_default()
                        == slice.ports.clone().unwrap_or_default()
                    && current.metadata.labels == slice.metadata.labels;
                if !same {
                    slice.metadata.resource_version = current.metadata.resource_version.clone();
                    api.replace(&slice_name, &PostParams::default(), &slice)
                        .await
                        .map_err(err("updating endpointslice"))?;
                }
            }
        }
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{EndpointPort as CorePort, ObjectReference};

    fn backend(ip: &str, port: i32, ready: bool) -> Backend {
        Backend {
            ip: ip.into(),
            node_name: Some("n1".into()),
            target_ref: ObjectReference {
                kind: Some("Pod".into()),
                name: Some(ip.into()),
                ..Default::default()
            },
            ready,
            serving: ready,
            terminating: false,
            ports: vec![CorePort {
                name: Some("http".into()),
                port,
                protocol: Some("TCP".into()),
                app_protocol: None,
            }],
        }
    }

    #[test]
    fn slices_group_backends_by_ports() {
        let slices = desired_slices(
            "web",
            &[
                backend("10.0.0.1", 80, true),
                backend("10.0.0.2", 80, false),
                backend("10.0.0.3", 81, true),
            ],
        );
        assert_eq!(slices.len(), 2);
        let (ports, eps) = slices
            .values()
            .find(|(p, _)| p[0].port == Some(80))
            .cloned()
            .unwrap_or_default();
        assert_eq!(ports[0].name.as_deref(), Some("http"));
        assert_eq!(eps.len(), 2);
        assert_eq!(
            eps[1].conditions.as_ref().and_then(|c| c.ready),
            Some(false)
        );
        assert!(slices.keys().all(|k| k.starts_with("web-")));
        assert_eq!(
            desired_slices("web", &[backend("10.0.0.9", 80, true)])
                .keys()
                .next(),
            slices.keys().find(|k| slices[*k].0[0].port == Some(80)),
            "names are stable"
        );
    }
}
