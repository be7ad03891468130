//! Tables of cases for `ruleset()`: which map elements and chain rules a Service produces.

use gantry_proxy::{ProxyConfig, Snapshot, ruleset};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use serde_json::json;

use crate::fixtures::{NODE, cfg, endpoint, service, service_with_status, slice, slice_ports, web};

struct Case {
    name: &'static str,
    services: Vec<Service>,
    slices: Vec<EndpointSlice>,
    contains: &'static [&'static str],
    absent: &'static [&'static str],
}

fn check(case: &Case, cfg: &ProxyConfig) {
    let text = ruleset(&Snapshot::build(&case.services, &case.slices), cfg);
    for want in case.contains {
        assert!(
            text.contains(want),
            "{}: missing {want:?} in\n{text}",
            case.name
        );
    }
    for unwanted in case.absent {
        assert!(
            !text.contains(unwanted),
            "{}: unexpected {unwanted:?} in\n{text}",
            case.name
        );
    }
}

const EP1: &str = "ep-default/web/tcp/http/10.42.0.11/8080";
const EP2: &str = "ep-default/web/tcp/http/10.42.0.12/8080";

fn two_endpoints() -> EndpointSlice {
    slice(
        "web",
        8080,
        vec![
            endpoint("10.42.0.11", NODE, true),
            endpoint("10.42.0.12", "node-b", true),
        ],
    )
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "cluster ip, two ready endpoints",
            services: vec![web("web", "10.43.0.10")],
            slices: vec![two_endpoints()],
            contains: &[
                "table ip gantry {",
                "10.43.0.10 . tcp . 80 : goto svc-default/web/tcp/http",
                "numgen random mod 2 vmap { 0 : goto ep-default/web/tcp/http/10.42.0.11/8080, 1 : goto ep-default/web/tcp/http/10.42.0.12/8080 }",
                "meta l4proto tcp dnat to 10.42.0.11:8080",
                "ip saddr != 10.42.0.0/16 jump mark-for-masquerade",
                "ip saddr 10.42.0.11 jump mark-for-masquerade",
                "goto cluster-default/web/tcp/http",
                "elements = { 10.43.0.10 }",
                "ip daddr 10.43.0.0/16 drop",
                "\t\tmasquerade\n",
            ],
            absent: &["ext-default", "local-default", "aff-", "10.42.0.0/16 goto"],
        },
        Case {
            name: "named target port resolved from the slice",
            services: vec![service(
                "web",
                json!({ "clusterIP": "10.43.0.10",
                "ports": [{ "name": "http", "port": 80, "targetPort": "web-port" }] }),
            )],
            slices: vec![slice("web", 9376, vec![endpoint("10.42.0.11", NODE, true)])],
            contains: &[
                "dnat to 10.42.0.11:9376",
                "numgen random mod 1 vmap { 0 : goto ep-default/web/tcp/http/10.42.0.11/9376 }",
            ],
            absent: &["8080"],
        },
        Case {
            name: "no endpoints rejects",
            services: vec![web("empty", "10.43.0.11")],
            slices: vec![],
            contains: &[
                "10.43.0.11 . tcp . 80 : goto reject-chain",
                "meta l4proto tcp reject with tcp reset",
            ],
            absent: &["svc-default/empty", "10.43.0.11 . tcp . 80 : goto svc"],
        },
        Case {
            name: "unready endpoints only rejects",
            services: vec![web("web", "10.43.0.10")],
            slices: vec![slice(
                "web",
                8080,
                vec![endpoint("10.42.0.11", NODE, false)],
            )],
            contains: &["10.43.0.10 . tcp . 80 : goto reject-chain"],
            absent: &[EP1],
        },
        Case {
            name: "serving terminating endpoints are the fallback",
            services: vec![web("web", "10.43.0.10")],
            slices: vec![slice(
                "web",
                8080,
                vec![json!({ "addresses": ["10.42.0.11"], "nodeName": NODE,
                "conditions": { "ready": false, "serving": true, "terminating": true } })],
            )],
            contains: &[EP1],
            absent: &["reject-chain,", "10.43.0.10 . tcp . 80 : goto reject-chain"],
        },
        Case {
            name: "headless and external name get nothing",
            services: vec![
                service(
                    "headless",
                    json!({ "clusterIP": "None", "ports": [{ "port": 80 }] }),
                ),
                service(
                    "ext",
                    json!({ "type": "ExternalName", "externalName": "example.com" }),
                ),
            ],
            slices: vec![slice(
                "headless",
                80,
                vec![endpoint("10.42.0.11", NODE, true)],
            )],
            contains: &["map service-ips"],
            absent: &["headless", "default/ext", "10.42.0.11"],
        },
        Case {
            name: "node port",
            services: vec![service(
                "web",
                json!({ "type": "NodePort", "clusterIP": "10.43.0.10",
                "ports": [{ "name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080 }] }),
            )],
            slices: vec![two_endpoints()],
            contains: &[
                "tcp . 30080 : goto ext-default/web/tcp/http",
                "chain ext-default/web/tcp/http {\n\t\tjump mark-for-masquerade\n\t\tgoto cluster-default/web/tcp/http",
                "elements = { 192.168.77.1 }",
                "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
            ],
            absent: &["local-default"],
        },
        Case {
            name: "node port without endpoints rejects",
            services: vec![service(
                "web",
                json!({ "type": "NodePort", "clusterIP": "10.43.0.10",
                "ports": [{ "name": "http", "port": 80, "nodePort": 30081 }] }),
            )],
            slices: vec![],
            contains: &["tcp . 30081 : goto reject-chain"],
            absent: &["ext-default"],
        },
        Case {
            name: "cluster ip service opens no node port",
            services: vec![service(
                "web",
                json!({ "clusterIP": "10.43.0.10",
                "ports": [{ "name": "http", "port": 80, "nodePort": 30082 }] }),
            )],
            slices: vec![two_endpoints()],
            contains: &[EP1],
            absent: &["30082"],
        },
        Case {
            name: "external ips",
            services: vec![service(
                "web",
                json!({ "clusterIP": "10.43.0.10", "externalIPs": ["192.0.2.5"],
                "ports": [{ "name": "http", "port": 80 }] }),
            )],
            slices: vec![two_endpoints()],
            contains: &[
                "192.0.2.5 . tcp . 80 : goto ext-default/web/tcp/http",
                "10.43.0.10 . tcp . 80 : goto svc-default/web/tcp/http",
            ],
            absent: &[],
        },
        Case {
            name: "load balancer ingress and node port",
            services: vec![service_with_status(
                "web",
                json!({ "type": "LoadBalancer", "clusterIP": "10.43.0.10",
                        "ports": [{ "name": "http", "port": 80, "nodePort": 30090 }] }),
                json!({ "loadBalancer": { "ingress": [{ "ip": "203.0.113.7" }] } }),
            )],
            slices: vec![two_endpoints()],
            contains: &[
                "203.0.113.7 . tcp . 80 : goto ext-default/web/tcp/http",
                "tcp . 30090 : goto ext-default/web/tcp/http",
            ],
            absent: &[],
        },
        Case {
            name: "client ip affinity with a timeout",
            services: vec![service(
                "web",
                json!({ "clusterIP": "10.43.0.10", "sessionAffinity": "ClientIP",
                "sessionAffinityConfig": { "clientIP": { "timeoutSeconds": 600 } },
                "ports": [{ "name": "http", "port": 80 }] }),
            )],
            slices: vec![two_endpoints()],
            contains: &[
                "set aff-default/web/tcp/http/10.42.0.11/8080 {\n\t\ttype ipv4_addr\n\t\tflags dynamic,timeout\n\t\ttimeout 600s",
                "update @aff-default/web/tcp/http/10.42.0.12/8080 { ip saddr }",
                "ip saddr @aff-default/web/tcp/http/10.42.0.11/8080 goto ep-default/web/tcp/http/10.42.0.11/8080",
            ],
            absent: &[],
        },
        Case {
            name: "client ip affinity defaults to three hours",
            services: vec![service(
                "web",
                json!({ "clusterIP": "10.43.0.10", "sessionAffinity": "ClientIP",
                "ports": [{ "name": "http", "port": 80 }] }),
            )],
            slices: vec![two_endpoints()],
            contains: &["timeout 10800s"],
            absent: &[],
        },
        Case {
            name: "external traffic policy local",
            services: vec![service(
                "web",
                json!({ "type": "NodePort", "clusterIP": "10.43.0.10",
                "externalTrafficPolicy": "Local",
                "ports": [{ "name": "http", "port": 80, "nodePort": 30080 }] }),
            )],
            slices: vec![two_endpoints()],
            contains: &[
                "chain local-default/web/tcp/http {\n\t\tnumgen random mod 1 vmap { 0 : goto ep-default/web/tcp/http/10.42.0.11/8080 }",
                "ip saddr 10.42.0.0/16 goto cluster-default/web/tcp/http",
                "fib saddr type local jump mark-for-masquerade",
                "\t\tgoto local-default/web/tcp/http\n\t}",
                // ClusterIP traffic still goes everywhere.
                "chain svc-default/web/tcp/http {\n\t\tip saddr != 10.42.0.0/16 jump mark-for-masquerade\n\t\tgoto cluster-default/web/tcp/http",
            ],
            absent: &["chain ext-default/web/tcp/http {\n\t\tjump mark-for-masquerade"],
        },
        Case {
            name: "external traffic policy local without local endpoints drops",
            services: vec![service(
                "web",
                json!({ "type": "NodePort", "clusterIP": "10.43.0.10",
                "externalTrafficPolicy": "Local",
                "ports": [{ "name": "http", "port": 80, "nodePort": 30080 }] }),
            )],
            slices: vec![slice(
                "web",
                8080,
                vec![endpoint("10.42.0.12", "node-b", true)],
            )],
            contains: &["chain local-default/web/tcp/http {\n\t\tdrop\n\t}", EP2],
            absent: &[EP1],
        },
        Case {
            name: "internal traffic policy local",
            services: vec![service(
                "web",
                json!({ "clusterIP": "10.43.0.10", "internalTrafficPolicy": "Local",
                "ports": [{ "name": "http", "port": 80 }] }),
            )],
            slices: vec![two_endpoints()],
            contains: &["\t\tgoto local-default/web/tcp/http\n", EP1],
            absent: &[EP2, "chain cluster-default"],
        },
        Case {
            name: "udp and several ports",
            services: vec![service(
                "dns",
                json!({ "clusterIP": "10.43.0.53", "ports": [
                { "name": "dns", "port": 53, "protocol": "UDP" },
                { "name": "dns-tcp", "port": 53, "protocol": "TCP" }] }),
            )],
            slices: vec![slice_ports(
                "dns",
                json!([
                { "name": "dns", "port": 5353, "protocol": "UDP" },
                { "name": "dns-tcp", "port": 5354, "protocol": "TCP" }]),
                vec![endpoint("10.42.0.20", NODE, true)],
            )],
            contains: &[
                "10.43.0.53 . udp . 53 : goto svc-default/dns/udp/dns",
                "10.43.0.53 . tcp . 53 : goto svc-default/dns/tcp/dns-tcp",
                "meta l4proto udp dnat to 10.42.0.20:5353",
                "meta l4proto tcp dnat to 10.42.0.20:5354",
            ],
            absent: &[],
        },
    ]
}

#[test]
fn ruleset_cases() {
    let cfg = cfg();
    for case in cases() {
        check(&case, &cfg);
    }
}

#[test]
fn ruleset_is_independent_of_input_order() {
    let cfg = cfg();
    let services = vec![web("a", "10.43.0.1"), web("b", "10.43.0.2")];
    let slices = vec![
        slice(
            "a",
            1,
            vec![
                endpoint("10.42.0.2", NODE, true),
                endpoint("10.42.0.1", NODE, true),
            ],
        ),
        slice("b", 2, vec![]),
    ];
    let forward = ruleset(&Snapshot::build(&services, &slices), &cfg);
    let rev_services: Vec<Service> = services.iter().rev().cloned().collect();
    let rev_slices: Vec<EndpointSlice> = slices.iter().rev().cloned().collect();
    assert_eq!(
        forward,
        ruleset(&Snapshot::build(&rev_services, &rev_slices), &cfg)
    );
}

#[test]
fn no_node_ips_leaves_the_nodeport_set_empty() {
    let cfg = ProxyConfig {
        node_ips: vec![],
        ..cfg()
    };
    let text = ruleset(&Snapshot::default(), &cfg);
    assert!(
        text.contains("set nodeport-ips {\n\t\ttype ipv4_addr\n\t}"),
        "{text}"
    );
}

#[test]
fn thousand_services_stay_one_lookup() {
    let services: Vec<Service> = (0..1000)
        .map(|i| {
            web(
                &format!("s{i}"),
                &format!("10.43.{}.{}", i / 250, i % 250 + 1),
            )
        })
        .collect();
    let slices: Vec<EndpointSlice> = (0..1000)
        .map(|i| {
            slice(
                &format!("s{i}"),
                8080,
                vec![endpoint(
                    &format!("10.42.{}.{}", i / 250, i % 250 + 1),
                    NODE,
                    true,
                )],
            )
        })
        .collect();
    let start = std::time::Instant::now();
    let text = ruleset(&Snapshot::build(&services, &slices), &cfg());
    assert!(start.elapsed() < std::time::Duration::from_secs(2));
    // The hook path is the same two map lookups however many Services there are.
    assert_eq!(text.matches("vmap @service-ips").count(), 1);
    assert_eq!(text.matches(" : goto svc-").count(), 1000);
}
