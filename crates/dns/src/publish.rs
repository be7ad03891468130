//! Publishing the node-local DNS server as the cluster's DNS Service: the `kube-dns` Service in
//! `kube-system` (ClusterIP 10.43.0.10 by default, selector-less, internalTrafficPolicy Local so
//! pods ask the server on their own node) and one EndpointSlice per node pointing at the node's
//! server, owned by the Node so it goes when the node does. The service proxy then carries pod
//! queries to 10.43.0.10:53 like any other Service.

use std::net::IpAddr;

use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

pub const NAMESPACE: &str = "kube-system";
pub const SERVICE: &str = "kube-dns";

/// The `kube-dns` Service.
pub fn service(cluster_ip: IpAddr, target_port: u16) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE, "labels": {"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}},
        "spec": {
            "clusterIP": cluster_ip.to_string(),
            "internalTrafficPolicy": "Local",
            "ports": [
                {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": target_port},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": target_port},
            ],
        },
    })
}

/// The EndpointSlice of `node`'s DNS server at `ip:port`.
pub fn slice(node: &str, node_uid: Option<&str>, ip: IpAddr, port: u16) -> Value {
    let mut v = json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {
            "name": format!("{SERVICE}-{node}"), "namespace": NAMESPACE,
            "labels": {"kubernetes.io/service-name": SERVICE, "endpointslice.kubernetes.io/managed-by": "gantry-agent"},
        },
        "addressType": if ip.is_ipv4() { "IPv4" } else { "IPv6" },
        "endpoints": [{"addresses": [ip.to_string()], "conditions": {"ready": true, "serving": true, "terminating": false}, "nodeName": node}],
        "ports": [
            {"name": "dns", "port": port, "protocol": "UDP"},
            {"name": "dns-tcp", "port": port, "protocol": "TCP"},
        ],
    });
    if let Some(uid) = node_uid {
        v["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "v1", "kind": "Node", "name": node, "uid": uid}]);
    }
    v
}

/// Makes sure the Service exists and this node's slice is current.
pub async fn publish(
    client: &kube::Client,
    cluster_ip: IpAddr,
    node: &str,
    node_uid: Option<&str>,
    ip: IpAddr,
    port: u16,
) -> Result<(), kube::Error> {
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let svc: Service =
        serde_json::from_value(service(cluster_ip, port)).map_err(kube::Error::SerdeError)?;
    match services.create(&PostParams::default(), &svc).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 409 => {}
        Err(e) => return Err(e),
    }
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), NAMESPACE);
    let body = slice(node, node_uid, ip, port);
    let name = format!("{SERVICE}-{node}");
    let params = PatchParams::apply("gantry-agent").force();
    slices
        .patch(&name, &params, &Patch::Apply(&body))
        .await
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_and_slice_point_at_the_node_server() {
        let s = service("10.43.0.10".parse().expect("ip"), 5353);
        assert_eq!(s["spec"]["clusterIP"], "10.43.0.10");
        assert_eq!(s["spec"]["ports"][0]["targetPort"], 5353);
        assert!(
            s["spec"].get("selector").is_none(),
            "selector-less: the agents publish the endpoints"
        );
        let e = slice("n1", Some("u"), "172.30.0.11".parse().expect("ip"), 5353);
        assert_eq!(e["metadata"]["name"], "kube-dns-n1");
        assert_eq!(
            e["metadata"]["labels"]["kubernetes.io/service-name"],
            "kube-dns"
        );
        assert_eq!(e["endpoints"][0]["nodeName"], "n1");
        assert_eq!(e["ports"][1]["protocol"], "TCP");
        assert_eq!(e["metadata"]["ownerReferences"][0]["uid"], "u");
    }
}
