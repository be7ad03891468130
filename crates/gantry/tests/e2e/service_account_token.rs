//! Service account tokens end to end: `kubectl create token` issues a token that
//! authenticates `kubectl --token` (with the CA and no client certificate) as
//! `system:serviceaccount:default:default` (`kubectl auth whoami`), a tampered token or one
//! bound to a deleted pod gets 401, new pods get the `kube-api-access-*` volume, and every
//! namespace gets the `kube-root-ca.crt` ConfigMap.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::{DEADLINE, Kubectl, Server, wait_until};

crate::per_kubectl! {
    service_account_tokens => tokens;
}

/// A kubeconfig trusting the cluster CA and carrying no credentials (`--token` adds them).
fn token_kubeconfig(server: &Server) -> PathBuf {
    let admin = std::fs::read_to_string(server.kubeconfig()).expect("reading the kubeconfig");
    let ca = admin
        .lines()
        .find_map(|l| l.trim().strip_prefix("certificate-authority-data: "))
        .expect("the kubeconfig holds the CA");
    let path = server.data_dir().join("sa").join("kubeconfig.yaml");
    std::fs::create_dir_all(path.parent().expect("parent dir")).expect("creating the sa dir");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: gantry\n  cluster:\n    server: https://127.0.0.1:{}\n    certificate-authority-data: {ca}\nusers:\n- name: sa\n  user: {{}}\ncontexts:\n- name: gantry\n  context:\n    cluster: gantry\n    user: sa\ncurrent-context: gantry\n",
        server.port
    );
    std::fs::write(&path, text).expect("writing the token kubeconfig");
    path
}

/// `token` with one character of its payload changed.
fn tampered(token: &str) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    assert_eq!(parts.len(), 3, "a JWS: {token}");
    let payload = &mut parts[1];
    let i = payload.len() / 2;
    let swap = if &payload[i..=i] == "A" { "B" } else { "A" };
    payload.replace_range(i..=i, swap);
    parts.join(".")
}

fn refused(k: &Kubectl, token: &str) {
    let out = k.run(&["get", "pods", "--token", token, "-v=6"]);
    assert!(!out.success, "a bad token was accepted");
    assert!(
        out.stderr.contains(" 401 Unauthorized") || out.stderr.contains("Unauthorized"),
        "expected 401:\n{}",
        out.stderr
    );
}

fn tokens(minor: u32) {
    let server = Server::start();
    let admin = Kubectl::new(&server, minor);
    let sa = Kubectl::with_kubeconfig(minor, token_kubeconfig(&server));
    // The controller manager starts right after the server is ready.
    wait_until("the default service account exists", DEADLINE, || {
        admin.run(&["get", "serviceaccount", "default"]).success
    });

    let token = admin.ok(&["create", "token", "default"]).trim().to_string();
    sa.ok(&["get", "pods", "--token", &token]);
    let whoami: Value =
        serde_json::from_str(&sa.ok(&["auth", "whoami", "-o", "json", "--token", &token]))
            .expect("whoami answers JSON");
    let user = &whoami["status"]["userInfo"];
    assert_eq!(
        user["username"], "system:serviceaccount:default:default",
        "{whoami}"
    );
    let groups = user["groups"].to_string();
    for g in [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ] {
        assert!(groups.contains(&format!("\"{g}\"")), "{g} in {groups}");
    }
    refused(&sa, &tampered(&token));
    let wrong_audience = admin
        .ok(&["create", "token", "default", "--audience", "vault"])
        .trim()
        .to_string();
    refused(&sa, &wrong_audience);
    let missing = admin.fails(&["create", "token", "nobody"], None);
    assert!(missing.contains("not found"), "{missing}");
    let short = admin.fails(&["create", "token", "default", "--duration", "1m"], None);
    assert!(
        short.contains("10 minutes") || short.contains("invalid"),
        "{short}"
    );

    // Pods get the token volume, mounted in every container.
    admin.ok(&["run", "p", "--image=nginx:1.27"]);
    let pod = admin.json(&["get", "pod", "p"]);
    assert_eq!(pod["spec"]["serviceAccountName"], "default");
    let volumes = pod["spec"]["volumes"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let volume = volumes
        .iter()
        .find(|v| {
            v["name"]
                .as_str()
                .is_some_and(|n| n.starts_with("kube-api-access-"))
        })
        .unwrap_or_else(|| panic!("no kube-api-access volume: {pod}"));
    let sources = &volume["projected"]["sources"];
    assert_eq!(sources[0]["serviceAccountToken"]["expirationSeconds"], 3607);
    assert_eq!(sources[1]["configMap"]["name"], "kube-root-ca.crt");
    assert_eq!(
        sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    let mounts = pod["spec"]["containers"][0]["volumeMounts"].to_string();
    assert!(
        mounts.contains("/var/run/secrets/kubernetes.io/serviceaccount"),
        "{mounts}"
    );

    // A token bound to the pod dies with it.
    let uid = pod["metadata"]["uid"]
        .as_str()
        .expect("pod uid")
        .to_string();
    let bound = admin
        .ok(&[
            "create",
            "token",
            "default",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            "p",
            "--bound-object-uid",
            &uid,
        ])
        .trim()
        .to_string();
    sa.ok(&["get", "pods", "--token", &bound]);
    admin.ok(&["delete", "pod", "p", "--grace-period=0", "--force"]);
    wait_until("pod p is gone", DEADLINE, || {
        !admin.run(&["get", "pod", "p"]).success
    });
    refused(&sa, &bound);
    sa.ok(&["get", "pods", "--token", &token]);

    // Every namespace gets the cluster CA.
    let ca = std::fs::read_to_string(server.data_dir().join("tls/ca.crt")).expect("the CA");
    admin.ok(&["create", "namespace", "fresh"]);
    wait_until("kube-root-ca.crt is published in fresh", DEADLINE, || {
        admin
            .run(&["get", "configmap", "kube-root-ca.crt", "-n", "fresh"])
            .success
    });
    let cm = admin.json(&["get", "configmap", "kube-root-ca.crt", "-n", "fresh"]);
    assert_eq!(cm["data"]["ca.crt"], ca.as_str());
    // Deleted, it comes back.
    admin.ok(&["delete", "configmap", "kube-root-ca.crt", "-n", "fresh"]);
    wait_until("kube-root-ca.crt is published again", DEADLINE, || {
        admin
            .run(&["get", "configmap", "kube-root-ca.crt", "-n", "fresh"])
            .success
    });
}
