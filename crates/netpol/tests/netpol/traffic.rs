//! Real traffic through rendered rulesets: a "node" network namespace with a Linux bridge and
//! three "pod" namespaces on it (busybox httpd servers, busybox wget clients); each step
//! applies a ruleset compiled from a snapshot inside the node namespace and checks which
//! connections get through. Needs root, `ip`, `nft` and `busybox`; skipped otherwise.

use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use gantry_netpol::nft::Nft;
use gantry_netpol::{NamedPort, PodInfo, Protocol, Snapshot, compile, render, set_update};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use serde_json::{Value, json};

const TABLE: &str = "gantry_netpol_test";
const NODE_IP: &str = "10.99.0.1";
/// (name, ip, app label).
const PODS: &[(&str, &str, &str)] = &[
    ("a", "10.99.0.10", "server"),
    ("b", "10.99.0.11", "other"),
    ("c", "10.99.0.12", "client"),
];

/// The namespaces and servers of one test; removed on drop, even when the test fails.
struct Lab {
    prefix: String,
    netns: Vec<String>,
    servers: Vec<Child>,
    _www: tempfile::TempDir,
}

impl Drop for Lab {
    fn drop(&mut self) {
        for child in &mut self.servers {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.netns.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

fn run(args: &[&str]) -> Result<()> {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .with_context(|| args.join(" "))?;
    if !output.status.success() {
        bail!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}

impl Lab {
    fn node(&self) -> String {
        format!("{}-node", self.prefix)
    }

    fn pod(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    fn setup() -> Result<Lab> {
        let www = tempfile::tempdir()?;
        std::fs::write(www.path().join("index.html"), "hello\n")?;
        let mut lab = Lab {
            prefix: format!("npt{}", std::process::id()),
            netns: Vec::new(),
            servers: Vec::new(),
            _www: www,
        };
        let node = lab.node();
        run(&["ip", "netns", "add", &node])?;
        lab.netns.push(node.clone());
        run(&["ip", "-n", &node, "link", "add", "br0", "type", "bridge"])?;
        run(&[
            "ip",
            "-n",
            &node,
            "addr",
            "add",
            &format!("{NODE_IP}/24"),
            "dev",
            "br0",
        ])?;
        run(&["ip", "-n", &node, "link", "set", "br0", "up"])?;
        run(&["ip", "-n", &node, "link", "set", "lo", "up"])?;
        // Bridged IPv4 must traverse the ip forward hook (br_netfilter, per namespace).
        run(&[
            "ip",
            "netns",
            "exec",
            &node,
            "sysctl",
            "-qw",
            "net.bridge.bridge-nf-call-iptables=1",
        ])
        .context("br_netfilter is not available in the node namespace")?;
        for (name, ip, _) in PODS {
            let pod = lab.pod(name);
            run(&["ip", "netns", "add", &pod])?;
            lab.netns.push(pod.clone());
            let host_end = format!("veth-{name}");
            run(&[
                "ip", "-n", &node, "link", "add", &host_end, "type", "veth", "peer", "name",
                "eth0", "netns", &pod,
            ])?;
            run(&[
                "ip", "-n", &node, "link", "set", &host_end, "master", "br0", "up",
            ])?;
            run(&[
                "ip",
                "-n",
                &pod,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ])?;
            run(&["ip", "-n", &pod, "link", "set", "eth0", "up"])?;
            run(&["ip", "-n", &pod, "link", "set", "lo", "up"])?;
            run(&["ip", "-n", &pod, "route", "add", "default", "via", NODE_IP])?;
            let www = lab._www.path().to_string_lossy().into_owned();
            let server = Command::new("ip")
                .args([
                    "netns", "exec", &pod, "busybox", "httpd", "-f", "-p", "80", "-h", &www,
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting busybox httpd")?;
            lab.servers.push(server);
        }
        Ok(lab)
    }

    /// Whether an HTTP GET from namespace `from` to `ip` succeeds within two seconds.
    fn connects(&self, from: &str, ip: &str) -> bool {
        let url = format!("http://{ip}/");
        Command::new("ip")
            .args([
                "netns",
                "exec",
                from,
                "timeout",
                "2",
                "busybox",
                "wget",
                "-q",
                "-O",
                "/dev/null",
                &url,
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Waits (with a deadline) until the servers answer, so later failures mean policy.
    fn wait_for_servers(&self) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        for (_, ip, _) in PODS {
            while !self.connects(&self.node(), ip) {
                if std::time::Instant::now() > deadline {
                    bail!("server {ip} did not come up");
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
        Ok(())
    }

    /// Checks every (client pod, server pod, expected) triple.
    fn expect(&self, step: &str, cases: &[(&str, &str, bool)]) {
        for (from, to, want) in cases {
            let ip = PODS.iter().find(|p| p.0 == *to).map_or("", |p| p.1);
            let from_ns = if *from == "node" {
                self.node()
            } else {
                self.pod(from)
            };
            let got = self.connects(&from_ns, ip);
            assert_eq!(got, *want, "{step}: {from} -> {to}");
        }
    }
}

fn snapshot(policies: &[Value]) -> Snapshot {
    let mut snapshot = Snapshot::default();
    snapshot.add_namespace("default", Default::default());
    for (name, ip, app) in PODS {
        snapshot.pods.push(PodInfo {
            namespace: "default".to_string(),
            name: name.to_string(),
            node: Some("n1".to_string()),
            ip: ip.parse::<Ipv4Addr>().ok(),
            labels: [("app".to_string(), app.to_string())].into(),
            ports: vec![NamedPort {
                name: "http".to_string(),
                protocol: Protocol::Tcp,
                port: 80,
            }],
        });
    }
    for (i, spec) in policies.iter().enumerate() {
        let policy: NetworkPolicy = serde_json::from_value(json!({
            "metadata": {"name": format!("p{i}"), "namespace": "default"},
            "spec": spec,
        }))
        .expect("test policy");
        snapshot.policies.push(policy);
    }
    snapshot
}

async fn apply(nft: &Nft, policies: &[Value]) -> Result<()> {
    let text = render(&compile(&snapshot(policies), "n1"), TABLE);
    nft.apply(TABLE, &text)
        .await
        .with_context(|| text.clone())?;
    Ok(())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

#[tokio::test]
async fn policies_filter_real_traffic() -> Result<()> {
    if !is_root() || Command::new("nft").arg("--version").output().is_err() {
        eprintln!("skipping: needs root and nft");
        return Ok(());
    }
    let lab = Lab::setup()?;
    lab.wait_for_servers()?;
    let nft = Nft::in_netns(&lab.node());

    apply(&nft, &[]).await?;
    lab.expect(
        "no policy",
        &[("c", "a", true), ("c", "b", true), ("a", "b", true)],
    );

    let deny_ingress = json!({"podSelector": {}, "policyTypes": ["Ingress"]});
    apply(&nft, std::slice::from_ref(&deny_ingress)).await?;
    lab.expect(
        "default deny",
        &[("c", "a", false), ("c", "b", false), ("node", "a", true)],
    );

    let allow_client = json!({
        "podSelector": {"matchLabels": {"app": "server"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "client"}}}], "ports": [{"port": "http"}]}],
    });
    let policies = [deny_ingress, allow_client];
    apply(&nft, &policies).await?;
    lab.expect(
        "allow client",
        &[("c", "a", true), ("b", "a", false), ("c", "b", false)],
    );

    // Pod b becomes a client: only the peer set changes, updated in place.
    let before = compile(&snapshot(&policies), "n1");
    let mut relabeled = snapshot(&policies);
    for pod in relabeled.pods.iter_mut().filter(|p| p.name == "b") {
        pod.labels.insert("app".to_string(), "client".to_string());
    }
    let after = compile(&relabeled, "n1");
    let update = set_update(&before, &after, TABLE).context("only sets changed")?;
    assert!(update.starts_with("flush set inet"), "{update}");
    nft.run_transaction(TABLE, &update).await?;
    let listed = nft.list_table(TABLE).await?;
    let expected = render(&after, TABLE);
    assert!(
        listed.contains("10.99.0.11, 10.99.0.12"),
        "{listed}\nwant\n{expected}"
    );
    lab.expect(
        "relabeled",
        &[("b", "a", true), ("c", "a", true), ("c", "b", false)],
    );

    let deny_client_egress =
        json!({"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"]});
    apply(&nft, &[deny_client_egress]).await?;
    lab.expect(
        "egress deny",
        &[
            ("c", "a", false),
            ("c", "b", false),
            ("a", "b", true),
            ("a", "c", true),
        ],
    );

    // The server may not open connections, yet replies to its clients pass.
    let deny_server_egress =
        json!({"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Egress"]});
    apply(&nft, &[deny_server_egress]).await?;
    lab.expect(
        "established replies",
        &[("c", "a", true), ("a", "b", false), ("node", "a", true)],
    );

    // Every feature at once must be accepted by nft.
    let everything = json!({
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
        "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.99.1.0/24", "10.99.1.128/25"]}},
                              {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "client"}}}],
                     "ports": [{"port": 80, "endPort": 90}, {"protocol": "SCTP"}, {"protocol": "UDP", "port": 53}]}],
        "egress": [{"to": [{"podSelector": {}}], "ports": [{"port": "http"}]}],
    });
    apply(&nft, &[everything]).await?;
    lab.expect("everything", &[("c", "a", true), ("a", "b", true)]);

    apply(&nft, &[]).await?;
    lab.expect("policies removed", &[("c", "a", true), ("a", "b", true)]);

    nft.delete_table(TABLE).await?;
    nft.delete_table(TABLE).await?;
    Ok(())
}
