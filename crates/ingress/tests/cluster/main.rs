//! The ingress controller against a real `gantry server`: Services and EndpointSlices made by
//! hand point at the test's apps on 127.0.0.1; requests go through the proxy on free ports.
//!
//! Needs the gantry binary: `cargo build -p gantry` first (found next to this test's `deps/`
//! directory, or at `$GANTRY_BIN`). Nothing sleeps to synchronise: waits poll with deadlines.

mod apiserver;
mod apps;
mod clients;
mod objects;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use gantry_ingress::{IngressConfig, run};
use hyper::Version;
use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use clients::{Reply, connect_tls, get, get_and_post_h2, get_tls, tls_config, upgrade_echo};
use objects::{Ca, NS, backend, path};

const DEADLINE: Duration = Duration::from_secs(20);
const PUBLISH_IP: &str = "192.0.2.10";

/// Polls `GET host/path` until the answer comes from `who` (an app name or a status code).
async fn wait_route(
    proxy: SocketAddr,
    host: &str,
    path: &str,
    who: &str,
    timeout: Duration,
) -> Result<Reply> {
    let deadline = Instant::now() + timeout;
    loop {
        let reply = get(proxy, host, path).await;
        match reply {
            Ok(reply) if reply.who() == who => return Ok(reply),
            other if Instant::now() > deadline => {
                bail!("{host}{path}: wanted {who} within {timeout:?}, last {other:?}")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ingress_against_a_real_api_server() -> Result<()> {
    let (server, client) = apiserver::start().await?;
    let result = scenario(&server, client).await;
    if result.is_err() {
        eprintln!("--- gantry server log ---\n{}", server.log());
    }
    result
}

async fn scenario(server: &apiserver::ApiServer, client: Client) -> Result<()> {
    let http_port = apiserver::free_port(server.port + 1)?;
    let https_port = apiserver::free_port(http_port + 1)?;
    let http: SocketAddr = ([127, 0, 0, 1], http_port).into();
    let https: SocketAddr = ([127, 0, 0, 1], https_port).into();
    let cfg = IngressConfig {
        http,
        https,
        class: "gantry".into(),
        publish_ips: vec![PUBLISH_IP.parse::<IpAddr>()?],
    };
    let controller = tokio::spawn(run(client.clone(), cfg));

    for name in ["app-a", "app-b", "app-c", "app-default"] {
        objects::service(&client, name, Some(apps::start(name).await?)).await?;
    }
    objects::service(&client, "app-empty", None).await?;
    let ca = Ca::new()?;
    let (crt, key, secret_leaf) = ca.leaf(&["a.example.com"])?;
    objects::tls_secret(&client, "a-tls", &crt, &key).await?;
    let (wild_crt, wild_key, wild_leaf) = ca.leaf(&["*.wild.test"])?;
    objects::tls_secret(&client, "wild-tls", &wild_crt, &wild_key).await?;

    objects::ingress(&client, "main", json!({}), json!({
        "ingressClassName": "gantry",
        "tls": [{"hosts": ["a.example.com"], "secretName": "a-tls"},
                    {"hosts": ["*.wild.test"], "secretName": "wild-tls"}],
        "rules": [
            {"host": "a.example.com", "http": {"paths": [
                path("/", "Prefix", "app-a"),
                path("/exact", "Exact", "app-b"),
            ]}},
            {"host": "b.example.com", "http": {"paths": [
                {"path": "/api", "pathType": "Prefix", "backend": backend("app-b", true)},
                path("/down", "Prefix", "app-empty"),
                path("/gone", "Prefix", "no-such-service"),
            ]}},
            {"host": "*.wild.test", "http": {"paths": [path("/", "ImplementationSpecific", "app-c")]}},
        ]
    })).await?;

    // Routing through plain HTTP.
    let first = wait_route(http, "a.example.com", "/", "app-a", DEADLINE).await?;
    ensure!(first.field("x-forwarded-for") == "127.0.0.1", "{first:?}");
    ensure!(first.field("x-forwarded-proto") == "http", "{first:?}");
    ensure!(
        first.field("x-forwarded-host") == "a.example.com",
        "{first:?}"
    );
    ensure!(
        first.field("x-forwarded-port") == http_port.to_string(),
        "{first:?}"
    );
    ensure!(first.field("host") == "a.example.com", "{first:?}");
    let cases = [
        ("a.example.com", "/exact", "app-b"),
        ("a.example.com:8080", "/exact?q=1", "app-b"),
        ("a.example.com", "/exact/", "app-a"),
        ("a.example.com", "/exactly", "app-a"),
        ("b.example.com", "/api", "app-b"),
        ("b.example.com", "/api/v1/x", "app-b"),
        ("b.example.com", "/apix", "404"),
        ("b.example.com", "/down", "503"),
        ("b.example.com", "/gone", "503"),
        ("x.wild.test", "/anything", "app-c"),
        ("y.x.wild.test", "/anything", "404"),
        ("wild.test", "/", "404"),
        ("unknown.org", "/", "404"),
    ];
    for (host, path, who) in cases {
        let reply = get(http, host, path).await?;
        ensure!(
            reply.who() == who,
            "{host}{path}: wanted {who}, got {reply:?}"
        );
    }
    let reply = get(http, "a.example.com", "/exact?q=1").await?;
    ensure!(reply.field("path") == "/exact?q=1", "query kept: {reply:?}");

    // Class selection: another class is ignored; no class (gantry is default) and the legacy
    // annotation are served.
    objects::ingress(
        &client,
        "other-class",
        json!({}),
        json!({"ingressClassName": "nginx",
        "rules": [{"host": "d.example.com", "http": {"paths": [path("/", "Prefix", "app-a")]}}]}),
    )
    .await?;
    objects::ingress(
        &client,
        "no-class",
        json!({}),
        json!({
        "rules": [{"host": "c.example.com", "http": {"paths": [path("/", "Prefix", "app-c")]}}]}),
    )
    .await?;
    objects::ingress(
        &client,
        "legacy",
        json!({"annotations": {"kubernetes.io/ingress.class": "gantry"}}),
        json!({
        "rules": [{"host": "e.example.com", "http": {"paths": [path("/", "Prefix", "app-b")]}}]}),
    )
    .await?;
    wait_route(http, "c.example.com", "/", "app-c", DEADLINE).await?;
    wait_route(http, "e.example.com", "/", "app-b", DEADLINE).await?;
    ensure!(
        get(http, "d.example.com", "/").await?.who() == "404",
        "other class served"
    );

    // A default backend catches what no rule matches.
    objects::ingress(
        &client,
        "fallback",
        json!({}),
        json!({"ingressClassName": "gantry",
        "defaultBackend": backend("app-default", false)}),
    )
    .await?;
    wait_route(http, "unknown.org", "/", "app-default", DEADLINE).await?;
    ensure!(get(http, "b.example.com", "/apix").await?.who() == "app-default");

    // The class exists and is the default; served Ingresses get the publish address.
    let class = Api::<IngressClass>::all(client.clone())
        .get("gantry")
        .await?;
    ensure!(class.spec.and_then(|s| s.controller).as_deref() == Some("gantry.dev/ingress"));
    ensure!(gantry_ingress::class::is_default(Some(
        &Api::<IngressClass>::all(client.clone())
            .get("gantry")
            .await?
    )));
    let ingresses = Api::<Ingress>::namespaced(client.clone(), NS);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let main = ingresses.get("main").await?;
        let legacy = ingresses.get("legacy").await?;
        let other = ingresses.get("other-class").await?;
        let ips = |i: &Ingress| {
            serde_json::to_value(&i.status).unwrap_or_default()["loadBalancer"]["ingress"].clone()
        };
        if ips(&main) == json!([{"ip": PUBLISH_IP}]) && ips(&legacy) == json!([{"ip": PUBLISH_IP}])
        {
            ensure!(ips(&other).is_null(), "other class got a status: {other:?}");
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "status not published: {:?}",
            main.status
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // TLS: the Secret's certificate for its host, the fallback for other names.
    let trusted = || tls_config(Some(&ca.cert()), &["http/1.1"]);
    let (tls, leaf) = connect_tls(https, "a.example.com", trusted()?).await?;
    ensure!(
        leaf == secret_leaf,
        "a.example.com not served the Secret's certificate"
    );
    let reply = get_tls(tls, "a.example.com", "/exact").await?;
    ensure!(
        reply.who() == "app-b" && reply.field("x-forwarded-proto") == "https",
        "{reply:?}"
    );
    ensure!(
        reply.field("x-forwarded-port") == https_port.to_string(),
        "{reply:?}"
    );
    let (tls, fallback_leaf) =
        connect_tls(https, "other.example.org", tls_config(None, &["http/1.1"])?).await?;
    ensure!(
        fallback_leaf != secret_leaf,
        "unknown SNI got the Secret's certificate"
    );
    ensure!(get_tls(tls, "c.example.com", "/").await?.who() == "app-c");
    let (tls, leaf) = connect_tls(https, "x.wild.test", trusted()?).await?;
    ensure!(
        leaf == wild_leaf,
        "x.wild.test not served the wildcard Secret's certificate"
    );
    ensure!(get_tls(tls, "x.wild.test", "/").await?.who() == "app-c");
    ensure!(
        connect_tls(https, "other.example.org", trusted()?)
            .await
            .is_err(),
        "fallback trusted?"
    );

    // HTTP/2 over TLS (ALPN h2) to the HTTP/1.1 app.
    let (tls, _) = connect_tls(
        https,
        "a.example.com",
        tls_config(Some(&ca.cert()), &["h2", "http/1.1"])?,
    )
    .await?;
    ensure!(
        tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice()),
        "h2 not negotiated"
    );
    let upload = bytes::Bytes::from(vec![7u8; 3 << 20]);
    let (reply, posted) = get_and_post_h2(tls, "a.example.com", "/exact", upload).await?;
    ensure!(
        posted.field("uploaded") == (3 << 20).to_string(),
        "{posted:?}"
    );
    ensure!(
        reply.version == Version::HTTP_2 && reply.who() == "app-b",
        "{reply:?}"
    );
    ensure!(
        reply.field("host") == "a.example.com"
            && reply.field("x-forwarded-host") == "a.example.com",
        "{reply:?}"
    );

    // Upgrade: the 101 is relayed and bytes flow both ways.
    let head = upgrade_echo(http, "a.example.com", b"hello through the ingress").await?;
    ensure!(
        head.to_ascii_lowercase().contains("upgrade: echo-test"),
        "{head}"
    );

    // A Secret change is served without restart.
    let (crt2, key2, new_leaf) = ca.leaf(&["a.example.com"])?;
    objects::tls_secret(&client, "a-tls", &crt2, &key2).await?;
    let deadline = Instant::now() + DEADLINE;
    while connect_tls(https, "a.example.com", trusted()?).await?.1 != new_leaf {
        ensure!(Instant::now() < deadline, "new certificate not served");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Editing the Ingress takes effect within a second.
    let patch = json!({"spec": {"rules": [
        {"host": "a.example.com", "http": {"paths": [path("/", "Prefix", "app-c")]}},
    ]}});
    let started = Instant::now();
    ingresses
        .patch("main", &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    wait_route(http, "a.example.com", "/", "app-c", Duration::from_secs(1))
        .await
        .with_context(|| format!("route change after {:?}", started.elapsed()))?;
    ensure!(
        get(http, "b.example.com", "/api").await?.who() == "app-default",
        "old rule kept"
    );

    ensure!(
        !controller.is_finished(),
        "controller stopped: {:?}",
        controller.await
    );
    controller.abort();
    Ok(())
}
