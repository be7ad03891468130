//! The network scenario (`--scenario network`): `gantry server` plus one real `gantry agent`
//! on the host network (its service proxy in nftables, its DNS server and ingress controller).
//! Measures HTTP requests/s to a busybox httpd pod directly, through its ClusterIP and through
//! an Ingress; the time from a Service change to rules in effect with 1,000 Services; and
//! DNS queries/s and latency against the node's DNS server.

mod dns;
mod load;
mod services;

use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, ensure};
use bytes::Bytes;
use hyper::{Method, StatusCode};

use crate::Args;
use crate::client::Conn;
use crate::latency::ms;
use crate::node::{DEADLINE, start_agent, wait_node_ready, wait_running};
use crate::report::{Report, Target, number};
use crate::server::{Server, free_port};

const NAMESPACE: &str = "netbench";
const NODE: &str = "netbench-node";
const CLUSTER_CIDR: &str = "10.78.0.0/16";
const INGRESS_HOST: &str = "bench.local";
const PAGE: &str = "hello from gantry-bench";
const BULK_SERVICES: usize = 1_000;
const CHANGES: usize = 20;
/// Linux's fixed TIME_WAIT period (TCP_TIMEWAIT_LEN), plus a second.
const TIME_WAIT: Duration = Duration::from_secs(61);
const TARGET_CLUSTER_IP_RATIO: f64 = 0.9;
const TARGET_CHANGE_P99_MS: f64 = 1_000.0;

/// Where the agent listens and what the bench created.
struct Setup {
    node_ip: IpAddr,
    dns: SocketAddr,
    ingress: SocketAddr,
    pod: SocketAddr,
    cluster: SocketAddr,
}

pub async fn run(args: &Args, command: String) -> anyhow::Result<Report> {
    let (mut report, gantry) = Report::begin(command, &args.gantry)?;
    report.context(format!(
        "`{} server` and one `gantry agent` on the host network (its own containerd, nftables service proxy, DNS server and ingress controller) on one machine with {} CPU(s), shared with this client",
        gantry.display(),
        crate::machine::cpus()
    ));
    report.context(format!(
        "HTTP load: {} closed-loop workers for {} s per run, a new TCP connection per `GET / HTTP/1.0` (busybox httpd closes after each answer); DNS: {} UDP sockets for {} s, one query in flight each",
        args.net_concurrency, args.net_seconds, args.dns_sockets, args.net_seconds
    ));
    let extra = ["--cluster-cidr", CLUSTER_CIDR];
    let server = Server::start(&gantry, args.protocol, args.h2_connections, &extra).await?;
    let outcome = measure(&gantry, &server, args, &mut report).await;
    let _ = Command::new(&gantry)
        .args(["down", "--data-dir"])
        .arg(server.data_dir())
        .stderr(Stdio::null())
        .status();
    let _ = server.stop().await;
    outcome?;
    let markdown = report.markdown();
    println!("\n{markdown}");
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(report)
}

async fn measure(
    gantry: &std::path::Path,
    server: &Server,
    args: &Args,
    report: &mut Report,
) -> anyhow::Result<()> {
    let node_ip = default_ip().context("finding the node IP (the default route's source)")?;
    let (dns_port, http_port, https_port) = (free_port()?, free_port()?, free_port()?);
    let flags = [
        "--cni-bridge".to_string(),
        "gnetbench0".into(),
        "--node-ip".into(),
        node_ip.to_string(),
        "--cluster-cidr".into(),
        CLUSTER_CIDR.into(),
        "--dns-port".into(),
        dns_port.to_string(),
        "--ingress-http-port".into(),
        http_port.to_string(),
        "--ingress-https-port".into(),
        https_port.to_string(),
    ];
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let agent = start_agent(gantry, server, NODE, &flags)?;
    let connector = &server.connector;
    wait_node_ready(connector, NODE).await?;
    let mut admin = connector.connect().await?;
    let setup = create_web(&mut admin, node_ip, dns_port, http_port).await?;
    report.context(format!(
        "node IP {node_ip}; pod {}, ClusterIP {}, ingress {}, DNS {}",
        setup.pod, setup.cluster, setup.ingress, setup.dns
    ));
    http_rates(args, &setup, report).await;

    let name = format!("web.{NAMESPACE}.svc.cluster.local");
    let window = Duration::from_secs(args.net_seconds);
    let mut d = dns::run(setup.dns, &name, args.dns_sockets, window).await?;
    let mut detail = format!(
        "A {name}, {} answers in {:.2} s",
        d.ok,
        d.elapsed.as_secs_f64()
    );
    if d.failed > 0 {
        let first = d.first_error.as_deref().unwrap_or("?");
        detail.push_str(&format!("; {} FAILED (first: {first})", d.failed));
    }
    report.row("DNS queries/s", format!("{} /s", number(d.rate())), detail);
    report.row(
        "DNS latency p50 / p99",
        format!(
            "{} / {} ms",
            ms(d.latencies.percentile(50.0)),
            ms(d.latencies.percentile(99.0))
        ),
        format!("{} sockets; {}", args.dns_sockets, d.latencies.summary()),
    );

    let mut churn = services::run(connector, NAMESPACE, node_ip, BULK_SERVICES, 8, CHANGES).await?;
    report.row(
        &format!("create {BULK_SERVICES} Services + EndpointSlices"),
        format!("{} ms", ms(churn.bulk_created)),
        format!(
            "selector-less, 8 connections; the last one's ClusterIP connected {} ms after the first create",
            ms(churn.bulk_in_effect)
        ),
    );
    report.check(
        &format!("Service change to rules in effect p99 ({BULK_SERVICES} Services)"),
        churn.changes.percentile(99.0).as_secs_f64() * 1e3,
        "ms",
        Target::AtMost(TARGET_CHANGE_P99_MS),
        format!(
            "{} changes, create Service + slice to first TCP connect through the ClusterIP (5 ms polls); {}; the two creates took p50 {} ms",
            churn.changes.len(),
            churn.changes.summary(),
            ms(churn.api.percentile(50.0))
        ),
    );
    report.row(
        "Service change to rules in effect p50",
        format!("{} ms", ms(churn.changes.percentile(50.0))),
        "",
    );
    drop(agent);
    Ok(())
}

/// The HTTP rows: direct (before and after), ClusterIP and Ingress. Direct runs connect from
/// the node IP; ClusterIP traffic from the host is masqueraded to the bridge address (random
/// ports) and the ingress dials the pod from the bridge address too, so the pod sees those two
/// on the same addresses with unrelated TCP timestamps: a SYN landing on a TIME_WAIT socket left
/// by the other run can fail the timestamp check and wait out a 1 s SYN retransmit. The runs
/// are kept apart by address, and by a pause of one TIME_WAIT period between those two.
async fn http_rates(args: &Args, setup: &Setup, report: &mut Report) {
    let (c, window) = (args.net_concurrency, Duration::from_secs(args.net_seconds));
    let node = Some(setup.node_ip);
    let mut direct_a = load::run(setup.pod, "web", node, c, window).await;
    let mut cluster = load::run(setup.cluster, "web", None, c, window).await;
    tokio::time::sleep(TIME_WAIT).await;
    let mut ingress = load::run(setup.ingress, INGRESS_HOST, None, c, window).await;
    let mut direct_b = load::run(setup.pod, "web", node, c, window).await;
    let direct = (direct_a.rate() + direct_b.rate()) / 2.0;
    report.note(format!(
        "Direct runs connect from the node IP; ClusterIP runs are masqueraded by the proxy (source not in the cluster CIDR) to the bridge address, keeping their source ports; the ingress also dials the pod from the bridge address, so the Ingress run waits {} s for the pod's TIME_WAIT sockets from the ClusterIP run to expire. The ingress opens a new backend connection per request (busybox httpd closes each one); a 1 s maximum in its latency is a SYN retransmit.",
        TIME_WAIT.as_secs()
    ));
    report.row(
        "HTTP requests/s direct to the pod IP",
        format!("{} /s", number(direct)),
        format!(
            "mean of a run before ({} /s: {}) and after ({} /s: {}) the others",
            number(direct_a.rate()),
            direct_a.describe(),
            number(direct_b.rate()),
            direct_b.describe()
        ),
    );
    report.row(
        "HTTP requests/s through the ClusterIP",
        format!("{} /s", number(cluster.rate())),
        cluster.describe(),
    );
    report.check(
        "ClusterIP / direct requests/s",
        cluster.rate() / direct.max(1e-9),
        "",
        Target::AtLeast(TARGET_CLUSTER_IP_RATIO),
        load::ratio_detail("ClusterIP", cluster.rate(), direct),
    );
    report.row(
        "HTTP requests/s through the Ingress",
        format!("{} /s", number(ingress.rate())),
        format!("Host: {INGRESS_HOST}; {}", ingress.describe()),
    );
    report.row(
        "Ingress / direct requests/s",
        number(ingress.rate() / direct.max(1e-9)),
        load::ratio_detail("Ingress", ingress.rate(), direct),
    );
}

/// The namespace, the httpd pod, its Service and Ingress; waits until each answers.
async fn create_web(
    admin: &mut Conn,
    node_ip: IpAddr,
    dns_port: u16,
    http_port: u16,
) -> anyhow::Result<Setup> {
    let post = |body: serde_json::Value| Some(("application/json", Bytes::from(body.to_string())));
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    admin
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/namespaces",
            post(ns),
        )
        .await?;
    let script = format!(
        "mkdir -p /www && echo '{PAGE}' > /www/index.html && exec httpd -f -p 8080 -h /www"
    );
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "httpd", "image": "gantry.local/busybox:latest", "imagePullPolicy": "IfNotPresent",
                "command": ["sh", "-c", script], "ports": [{"containerPort": 8080}]}],
        },
    });
    let pods = format!("/api/v1/namespaces/{NAMESPACE}/pods");
    admin
        .expect(StatusCode::CREATED, Method::POST, &pods, post(pod))
        .await?;
    let svc = serde_json::json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
    });
    let path = format!("/api/v1/namespaces/{NAMESPACE}/services");
    let body = admin
        .expect(StatusCode::CREATED, Method::POST, &path, post(svc))
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&body).context("decoding the Service")?;
    let cluster_ip: IpAddr = v["spec"]["clusterIP"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("the Service has no ClusterIP")?;
    let ing = serde_json::json!({
        "apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "web"},
        "spec": {"ingressClassName": "gantry", "rules": [{"host": INGRESS_HOST, "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}}]}}]},
    });
    let path = format!("/apis/networking.k8s.io/v1/namespaces/{NAMESPACE}/ingresses");
    admin
        .expect(StatusCode::CREATED, Method::POST, &path, post(ing))
        .await?;

    wait_running(admin, &format!("{pods}/web")).await?;
    let body = admin
        .expect(StatusCode::OK, Method::GET, &format!("{pods}/web"), None)
        .await?;
    let v: serde_json::Value = serde_json::from_slice(&body).context("decoding the pod")?;
    let pod_ip: IpAddr = v["status"]["podIP"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .context("the Running pod has no podIP")?;
    wait_endpoint_ready(admin).await?;
    let setup = Setup {
        node_ip,
        dns: SocketAddr::new(node_ip, dns_port),
        ingress: SocketAddr::new(node_ip, http_port),
        pod: SocketAddr::new(pod_ip, 8080),
        cluster: SocketAddr::new(cluster_ip, 80),
    };
    load::wait_http(setup.pod, "web", PAGE, DEADLINE).await?;
    load::wait_http(setup.cluster, "web", PAGE, DEADLINE).await?;
    load::wait_http(setup.ingress, INGRESS_HOST, PAGE, DEADLINE).await?;
    let name = format!("web.{NAMESPACE}.svc.cluster.local");
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        match dns::resolve(setup.dns, &name).await {
            Ok(ip) if IpAddr::V4(ip) == cluster_ip => break,
            Ok(ip) => anyhow::bail!("{name} resolved to {ip}, not the ClusterIP {cluster_ip}"),
            Err(e) => ensure!(
                std::time::Instant::now() < deadline,
                "no DNS answer for {name}: {e:#}"
            ),
        }
        // Poll interval against the deadline above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(setup)
}

/// Waits until the `web` Service's EndpointSlice lists a ready endpoint.
async fn wait_endpoint_ready(admin: &mut Conn) -> anyhow::Result<()> {
    let path = format!(
        "/apis/discovery.k8s.io/v1/namespaces/{NAMESPACE}/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dweb"
    );
    let deadline = std::time::Instant::now() + DEADLINE;
    loop {
        let body = admin
            .expect(StatusCode::OK, Method::GET, &path, None)
            .await?;
        let v: serde_json::Value =
            serde_json::from_slice(&body).context("decoding EndpointSlices")?;
        let ready = v["items"].as_array().into_iter().flatten().any(|s| {
            s["endpoints"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["conditions"]["ready"] == true)
        });
        if ready {
            return Ok(());
        }
        ensure!(
            std::time::Instant::now() < deadline,
            "the web Service has no ready endpoint after {} s",
            DEADLINE.as_secs()
        );
        // Poll interval against the deadline above.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The source address the kernel picks for the default route (no packet is sent).
fn default_ip() -> anyhow::Result<IpAddr> {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0")?;
    probe.connect("10.255.255.255:1")?;
    Ok(probe.local_addr()?.ip())
}
