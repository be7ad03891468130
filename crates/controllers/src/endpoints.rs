//! The Endpoints controller: for every Service with a selector, an Endpoints object of the same
//! name listing the matching pods' IPs (ready ones as addresses, the others as notReadyAddresses
//! unless `publishNotReadyAddresses`), grouped by the ports their named target ports resolve to.
//! Also home of the pure "backends of a service" decision the EndpointSlice controller shares,
//! and of the pod-to-service trigger both controllers use.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::pod_informer::PodInformer;
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, ObjectReference, Pod, Service,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::api::{Api, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

/// Why a reconcile of the Endpoints or EndpointSlice controller failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{step} for service {name}: {source}")]
    Api {
        step: &'static str,
        name: String,
        source: kube::Error,
    },
}

/// One pod behind a service, with the ports its service ports resolve to on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Backend {
    pub ip: String,
    pub node_name: Option<String>,
    pub target_ref: ObjectReference,
    pub ready: bool,
    pub serving: bool,
    pub terminating: bool,
    pub ports: Vec<EndpointPort>,
}

fn pod_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.type_ == "Ready" && c.status == "True")
}

fn selects(service: &Service, pod: &Pod) -> bool {
    let Some(selector) = service
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .filter(|s| !s.is_empty())
    else {
        return false;
    };
    pod.namespace() == service.namespace()
        && selector.iter().all(|(k, v)| pod.labels().get(k) == Some(v))
}

/// The ports `service`'s ports resolve to on `pod` (a named targetPort looks up the container
/// port of that name; a port that does not resolve is left out for this pod).
pub fn resolve_ports(service: &Service, pod: &Pod) -> Vec<EndpointPort> {
    let container_ports: Vec<_> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter())
        .flat_map(|c| c.ports.iter().flatten())
        .collect();
    let mut out = Vec::new();
    for sp in service.spec.iter().flat_map(|s| s.ports.iter().flatten()) {
        let protocol = sp.protocol.clone().unwrap_or_else(|| "TCP".into());
        let port = match &sp.target_port {
            None => Some(sp.port),
            Some(IntOrString::Int(p)) => Some(*p),
            Some(IntOrString::String(name)) => match name.parse::<i32>() {
                Ok(p) => Some(p),
                Err(_) => container_ports
                    .iter()
                    .find(|cp| {
                        cp.name.as_deref() == Some(name.as_str())
                            && cp.protocol.as_deref().unwrap_or("TCP") == protocol
                    })
                    .map(|cp| cp.container_port),
            },
        };
        if let Some(port) = port {
            out.push(EndpointPort {
                name: sp.name.clone(),
                port,
                protocol: Some(protocol),
                app_protocol: sp.app_protocol.clone(),
            });
        }
    }
    out
}

/// The backends of `service` among `pods`: pods it selects that have an IP and have not
/// finished, sorted by IP. Readiness honours `publishNotReadyAddresses`.
pub fn backends<'a>(service: &Service, pods: impl IntoIterator<Item = &'a Pod>) -> Vec<Backend> {
    let publish = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut out: Vec<Backend> = pods
        .into_iter()
        .filter(|p| selects(service, p))
        .filter(|p| {
            !matches!(
                p.status.as_ref().and_then(|s| s.phase.as_deref()),
                Some("Succeeded" | "Failed")
            )
        })
        .filter_map(|p| {
            let ip = p
                .status
                .as_ref()?
                .pod_ip
                .clone()
                .filter(|ip| !ip.is_empty())?;
            let terminating = p.metadata.deletion_timestamp.is_some();
            let serving = publish || pod_ready(p);
            Some(Backend {
                ip,
                node_name: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                target_ref: ObjectReference {
                    kind: Some("Pod".into()),
                    namespace: p.namespace(),
                    name: Some(p.name_any()),
                    uid: p.uid(),
                    ..Default::default()
                },
                ready: serving && !terminating,
                serving,
                terminating,
                ports: resolve_ports(service, p),
            })
        })
        .collect();
    out.sort_by(|a, b| a.ip.cmp(&b.ip));
    out
}

/// Endpoints subsets from backends: one subset per distinct port set; terminating pods are left
/// out unless the service publishes not-ready addresses.
pub fn subsets(service: &Service, backends: &[Backend]) -> Vec<EndpointSubset> {
    let publish = service
        .spec
        .as_ref()
        .and_then(|s| s.publish_not_ready_addresses)
        .unwrap_or(false);
    let mut groups: BTreeMap<String, EndpointSubset> = BTreeMap::new();
    for b in backends.iter().filter(|b| publish || !b.terminating) {
        let key = serde_json::to_string(&b.ports).unwrap_or_default();
        let subset = groups.entry(key).or_insert_with(|| EndpointSubset {
            ports: (!b.ports.is_empty()).then(|| b.ports.clone()),
            ..Default::default()
        });
        let addr = EndpointAddress {
            ip: b.ip.clone(),
            node_name: b.node_name.clone(),
            target_ref: Some(b.target_ref.clone()),
            hostname: None,
        };
        let list = if b.ready || publish {
            &mut subset.addresses
        } else {
            &mut subset.not_ready_addresses
        };
        list.get_or_insert_with(Vec::new).push(addr);
    }
    groups.into_values().collect()
}

/// The reference a Service's endpoints objects carry (so the garbage collector removes them
/// with the Service).
pub fn service_owner(service: &Service) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: "v1".into(),
        kind: "Service".into(),
        name: service.meta().name.clone()?,
        uid: service.meta().uid.clone()?,
        controller: Some(true),
        block_owner_deletion: Some(true),
    })
}

/// A pod reflector plus a trigger stream naming, for each pod change, the services selecting it
/// now or before the change (so a pod leaving a selector updates the service it left).
pub fn pod_triggers(
    informer: &PodInformer,
    services: Store<Service>,
) -> (
    Store<Pod>,
    impl Stream<Item = ObjectRef<Service>> + Send + 'static,
) {
    let pods = informer.store();
    let before: Arc<Mutex<HashMap<String, Vec<ObjectRef<Service>>>>> = Arc::default();
    let stream = informer.touched().flat_map(move |pod| {
        let now: Vec<ObjectRef<Service>> = services
            .state()
            .iter()
            .filter(|s| selects(s, &pod))
            .map(|s| ObjectRef::from_obj(&**s))
            .collect();
        let mut all = now.clone();
        if let Ok(mut before) = before.lock() {
            let key = pod.uid().unwrap_or_default();
            all.extend(
                before
                    .get(&key)
                    .into_iter()
                    .flatten()
                    .filter(|r| !now.contains(r))
                    .cloned(),
            );
            if pod.metadata.deletion_timestamp.is_some() && now.is_empty() {
                before.remove(&key);
            } else {
                before.insert(key, now);
            }
        }
        futures::stream::iter(all)
    });
    (pods, stream)
}

struct Ctx {
    client: kube::Client,
    pods: Store<Pod>,
}

/// The Endpoints controller's main loop.
pub async fn run(client: kube::Client, informer: PodInformer) {
    let controller = Controller::new(
        Api::<Service>::all(client.clone()),
        watcher::Config::default(),
    );
    let (pods, triggers) = pod_triggers(&informer, controller.store());
    let ctx = Arc::new(Ctx { client, pods });
    controller
        .reconcile_on(triggers)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

fn error_policy(service: Arc<Service>, error: &Error, _: Arc<Ctx>) -> Action {
    tracing::warn!(controller = "endpoints", service = service.name_any(), %error, "reconcile failed");
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
    if gantry_informer::ready(&ctx.pods).await.is_err() {
        return Ok(Action::requeue(Duration::from_secs(1)));
    }
    let name = service.name_any();
    let ns = service.namespace().unwrap_or_default();
    let pods = ctx.pods.state();
    let backends = backends(&service, pods.iter().map(|p| &**p));
    let desired = Endpoints {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(ns.clone()),
            labels: service.metadata.labels.clone(),
            owner_references: service_owner(&service).map(|o| vec![o]),
            ..Default::default()
        },
        subsets: Some(subsets(&service, &backends)).filter(|s| !s.is_empty()),
    };
    let api: Api<Endpoints> = Api::namespaced(ctx.client.clone(), &ns);
    let err = |step| {
        let name = name.clone();
        move |source| Error::Api { step, name, source }
    };
    match api.get_opt(&name).await.map_err(err("reading endpoints"))? {
        None => {
            api.create(&PostParams::default(), &desired)
                .await
                .map_err(err("creating endpoints"))?;
        }
        Some(current)
            if current.subsets.clone().filter(|s| !s.is_empty()) != desired.subsets
                || current.metadata.labels != desired.metadata.labels =>
        {
            let mut next = desired;
            next.metadata.resource_version = current.metadata.resource_version.clone();
            next.metadata.owner_references = current
                .metadata
                .owner_references
                .clone()
                .or(next.metadata.owner_references);
            api.replace(&name, &PostParams::default(), &next)
                .await
                .map_err(err("updating endpoints"))?;
        }
        Some(_) => {}
    }
    Ok(Action::await_change())
}

#[cfg(test)]
mod tests;
