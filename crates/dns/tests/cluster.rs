//! Cluster DNS against a real `gantry server`: Services and EndpointSlices created through the
//! API become records, changes show up within a second, other names go to a fake upstream.
//!
//! Needs the gantry binary: `cargo build -p gantry` first (found next to this test's
//! `deps/` directory, or at `$GANTRY_BIN`).

use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use gantry_dns::{DnsConfig, serve};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(30);

fn gantry_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GANTRY_BIN") {
        return path.into();
    }
    // target/debug/deps/cluster-<hash> -> target/debug/gantry
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .map(|debug| debug.join("gantry"))
        .expect("target dir")
}

/// A free port in 17200-17299 usable for both UDP and TCP on 127.0.0.1.
fn free_port(from: u16) -> u16 {
    (from..17300)
        .find(|port| {
            UdpSocket::bind(("127.0.0.1", *port)).is_ok()
                && TcpListener::bind(("127.0.0.1", *port)).is_ok()
        })
        .expect("a free port in 17200-17299")
}

/// `gantry server` in its own data dir; killed (by PID) when dropped.
struct ApiServer {
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_api_server() -> Result<(ApiServer, Client)> {
    let binary = gantry_binary();
    if !binary.exists() {
        bail!(
            "{} missing: run `cargo build -p gantry` first",
            binary.display()
        );
    }
    let dir = tempfile::Builder::new()
        .prefix("gantry-dns-")
        .tempdir_in("/tmp")?;
    let port = free_port(17200);
    let log = std::fs::File::create(dir.path().join("server.log"))?;
    let child = Command::new(binary)
        .args(["server", "--data-dir"])
        .arg(dir.path())
        .args([
            "--https-port",
            &port.to_string(),
            "--bind-address",
            "127.0.0.1",
        ])
        .args(["--disable-controller-manager", "--disable-scheduler"])
        .env("NO_COLOR", "1")
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .context("starting gantry server")?;
    let server = ApiServer { child, dir };
    let kubeconfig = server.dir.path().join("kubeconfig.yaml");
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Ok(yaml) = std::fs::read_to_string(&kubeconfig)
            && let Ok(config) = kube::config::Kubeconfig::from_yaml(&yaml)
            && let Ok(config) =
                kube::Config::from_custom_kubeconfig(config, &Default::default()).await
            && let Ok(client) = Client::try_from(config)
            && Api::<Service>::namespaced(client.clone(), "default")
                .get("kubernetes")
                .await
                .is_ok()
        {
            return Ok((server, client));
        }
        if Instant::now() > deadline {
            let log =
                std::fs::read_to_string(server.dir.path().join("server.log")).unwrap_or_default();
            bail!("gantry server not ready in time:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ask(addr: SocketAddr, name: &str, qtype: RecordType) -> Result<Message> {
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let mut query = Message::new(99, MessageType::Query, OpCode::Query);
    query.metadata.recursion_desired = true;
    query.add_query(Query::query(Name::from_ascii(name)?, qtype));
    let mut buffer = vec![0u8; 65535];
    // UDP is lossy and the server may still be binding: resend as resolvers do.
    for _ in 0..5 {
        socket.send_to(&query.to_vec()?, addr).await?;
        if let Ok(received) =
            tokio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buffer)).await
        {
            let (len, _) = received?;
            return Ok(Message::from_vec(&buffer[..len])?);
        }
    }
    bail!("dns answer for {name} {qtype} timed out after 5 tries")
}

/// The answers' data rendered as text, sorted.
fn data(message: &Message) -> Vec<String> {
    let mut data: Vec<String> = message.answers.iter().map(|r| r.data.to_string()).collect();
    data.sort();
    data
}

/// Polls `name`/`qtype` until `condition` holds on the reply; returns the reply.
async fn wait_for(
    addr: SocketAddr,
    name: &str,
    qtype: RecordType,
    timeout: Duration,
    condition: impl Fn(&Message) -> bool,
) -> Result<Message> {
    let deadline = Instant::now() + timeout;
    loop {
        let reply = ask(addr, name, qtype).await?;
        if condition(&reply) {
            return Ok(reply);
        }
        if Instant::now() > deadline {
            bail!("{name} {qtype}: condition not met within {timeout:?}; last reply {reply:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A fake remote resolver: every A question gets 192.0.2.53, TTL 60.
fn fake_upstream() -> Result<SocketAddr> {
    let socket = UdpSocket::bind("127.0.0.1:0")?;
    let addr = socket.local_addr()?;
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok((len, peer)) = socket.recv_from(&mut buffer) {
            let Ok(query) = Message::from_vec(&buffer[..len]) else {
                continue;
            };
            let mut reply = Message::new(query.metadata.id, MessageType::Response, OpCode::Query);
            reply.add_queries(query.queries.clone());
            if let Some(q) = query.queries.first() {
                let a = RData::A(A::new(192, 0, 2, 53));
                reply.add_answer(Record::from_rdata(q.name().clone(), 60, a));
            }
            if let Ok(bytes) = reply.to_vec() {
                let _ = socket.send_to(&bytes, peer);
            }
        }
    });
    Ok(addr)
}

fn slice(name: &str, service: &str, addresses: &[(&str, Option<&str>)]) -> Result<EndpointSlice> {
    let endpoints: Vec<_> = addresses
        .iter()
        .map(|(ip, hostname)| json!({"addresses": [ip], "hostname": hostname, "conditions": {"ready": true}}))
        .collect();
    Ok(serde_json::from_value(json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": name, "labels": {"kubernetes.io/service-name": service}},
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
    }))?)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_dns_against_a_real_api_server() -> Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (_server, client) = start_api_server().await?;
    let services: Api<Service> = Api::namespaced(client.clone(), "default");
    let slices: Api<EndpointSlice> = Api::namespaced(client.clone(), "default");

    let web: Service = serde_json::from_value(json!({
        "metadata": {"name": "web"},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": 8080}], "selector": {"app": "web"}},
    }))?;
    let web = services.create(&PostParams::default(), &web).await?;
    let cluster_ip = web
        .spec
        .and_then(|s| s.cluster_ip)
        .context("web has a cluster IP")?;
    let db: Service = serde_json::from_value(json!({
        "metadata": {"name": "db"},
        "spec": {"clusterIP": "None", "ports": [{"name": "pg", "port": 5432}], "selector": {"app": "db"}},
    }))?;
    services.create(&PostParams::default(), &db).await?;
    let ext: Service = serde_json::from_value(json!({
        "metadata": {"name": "ext"},
        "spec": {"type": "ExternalName", "externalName": "web.default.svc.cluster.local"},
    }))?;
    services.create(&PostParams::default(), &ext).await?;
    let db_slice = slice(
        "db-1",
        "db",
        &[("10.42.0.5", Some("db-0")), ("10.42.0.6", None)],
    )?;
    slices.create(&PostParams::default(), &db_slice).await?;

    let dns = SocketAddr::from(([127, 0, 0, 1], free_port(17250)));
    let config = DnsConfig {
        listen: vec![dns],
        cluster_domain: "cluster.local".into(),
        upstreams: vec![fake_upstream()?],
        negative_ttl: Duration::from_secs(30),
    };
    let serving = tokio::spawn(serve(client.clone(), config));

    // A: the allocated ClusterIP, once the watches have synced.
    let reply = wait_for(
        dns,
        "web.default.svc.cluster.local.",
        RecordType::A,
        DEADLINE,
        |m| !m.answers.is_empty(),
    )
    .await?;
    assert_eq!(data(&reply), std::slice::from_ref(&cluster_ip));
    let reply = ask(dns, "kubernetes.default.svc.cluster.local.", RecordType::A).await?;
    assert_eq!(
        reply.answers.len(),
        1,
        "the built-in kubernetes Service: {reply:?}"
    );

    // SRV for the named port.
    let reply = ask(
        dns,
        "_http._tcp.web.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await?;
    assert_eq!(data(&reply), ["0 100 80 web.default.svc.cluster.local."]);

    // PTR of the ClusterIP.
    let ip: IpAddr = cluster_ip.parse()?;
    let IpAddr::V4(v4) = ip else {
        bail!("IPv4 cluster IP expected")
    };
    let [a, b, c, d] = v4.octets();
    let reverse = format!("{d}.{c}.{b}.{a}.in-addr.arpa.");
    let reply = ask(dns, &reverse, RecordType::PTR).await?;
    assert_eq!(data(&reply), ["web.default.svc.cluster.local."]);

    // NXDOMAIN with the SOA for negative caching; NODATA for the namespace name.
    let reply = ask(dns, "nope.default.svc.cluster.local.", RecordType::A).await?;
    assert_eq!(reply.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(
        reply.authorities.first().map(|r| (r.record_type(), r.ttl)),
        Some((RecordType::SOA, 30))
    );
    let reply = ask(dns, "default.svc.cluster.local.", RecordType::A).await?;
    assert_eq!(
        (reply.metadata.response_code, reply.answers.len()),
        (ResponseCode::NoError, 0)
    );

    // Headless: every ready endpoint, per-pod names, SRV per endpoint.
    let reply = wait_for(
        dns,
        "db.default.svc.cluster.local.",
        RecordType::A,
        DEADLINE,
        |m| m.answers.len() == 2,
    )
    .await?;
    assert_eq!(data(&reply), ["10.42.0.5", "10.42.0.6"]);
    let reply = ask(dns, "db-0.db.default.svc.cluster.local.", RecordType::A).await?;
    assert_eq!(data(&reply), ["10.42.0.5"]);
    let reply = ask(
        dns,
        "10-42-0-6.db.default.svc.cluster.local.",
        RecordType::A,
    )
    .await?;
    assert_eq!(data(&reply), ["10.42.0.6"]);
    let reply = ask(
        dns,
        "_pg._tcp.db.default.svc.cluster.local.",
        RecordType::SRV,
    )
    .await?;
    assert_eq!(
        data(&reply),
        [
            "0 100 5432 10-42-0-6.db.default.svc.cluster.local.",
            "0 100 5432 db-0.db.default.svc.cluster.local."
        ]
    );
    let reply = ask(dns, "5.0.42.10.in-addr.arpa.", RecordType::PTR).await?;
    assert_eq!(data(&reply), ["db-0.db.default.svc.cluster.local."]);

    // ExternalName to a cluster name: CNAME, then the target's address.
    let reply = ask(dns, "ext.default.svc.cluster.local.", RecordType::A).await?;
    assert_eq!(
        data(&reply),
        [
            cluster_ip.clone(),
            "web.default.svc.cluster.local.".to_string()
        ]
    );

    // Everything else goes upstream.
    let reply = ask(dns, "example.com.", RecordType::A).await?;
    assert_eq!(data(&reply), ["192.0.2.53"]);

    // An endpoint change is visible within a second.
    let grown = slice(
        "db-1",
        "db",
        &[
            ("10.42.0.5", Some("db-0")),
            ("10.42.0.6", None),
            ("10.42.0.7", Some("db-2")),
        ],
    )?;
    let patch = json!({"endpoints": grown.endpoints});
    let changed = Instant::now();
    slices
        .patch("db-1", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    wait_for(
        dns,
        "db.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(1),
        |m| m.answers.len() == 3,
    )
    .await?;
    wait_for(
        dns,
        "db-2.db.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(1),
        |m| m.answers.len() == 1,
    )
    .await?;
    eprintln!("endpoint change visible after {:?}", changed.elapsed());

    // A deleted Service disappears within a second.
    services.delete("web", &Default::default()).await?;
    wait_for(
        dns,
        "web.default.svc.cluster.local.",
        RecordType::A,
        Duration::from_secs(1),
        |m| m.metadata.response_code == ResponseCode::NXDomain,
    )
    .await?;

    assert!(!serving.is_finished(), "serve() still running");
    serving.abort();
    Ok(())
}
