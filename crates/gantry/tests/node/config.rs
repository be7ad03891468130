//! ConfigMaps and Secrets reach containers as environment variables and as files, and a
//! changed ConfigMap reaches the mounted file while the pod runs.

use std::time::Duration;

use crate::harness::{BUSYBOX, Cluster, wait_until};

fn manifest(greeting: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  greeting: {greeting}
  COLOR: blue
---
apiVersion: v1
kind: Secret
metadata:
  name: credentials
stringData:
  password: s3cret
  API_TOKEN: tok-123
"#
    )
}

fn pod() -> String {
    format!(
        r#"apiVersion: v1
kind: Pod
metadata:
  name: consumer
spec:
  containers:
  - name: main
    image: {BUSYBOX}
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", "env; exec sleep 3600"]
    env:
    - name: GREETING
      valueFrom:
        configMapKeyRef: {{name: settings, key: greeting}}
    - name: PASSWORD
      valueFrom:
        secretKeyRef: {{name: credentials, key: password}}
    envFrom:
    - configMapRef: {{name: settings}}
    - secretRef: {{name: credentials}}
    volumeMounts:
    - {{name: config, mountPath: /etc/config}}
    - {{name: secret, mountPath: /etc/secret, readOnly: true}}
  volumes:
  - name: config
    configMap: {{name: settings}}
  - name: secret
    secret: {{secretName: credentials}}
"#
    )
}

#[test]
fn configmap_and_secret_as_env_and_files_and_updates_reach_the_file() {
    let cluster = Cluster::start(2);
    cluster.apply(&manifest("hello"));
    cluster.apply(&pod());
    cluster.wait_running("consumer");

    let env = cluster.kubectl_ok(&["exec", "consumer", "--", "env"]);
    for expected in [
        "GREETING=hello",
        "PASSWORD=s3cret",
        "COLOR=blue",
        "API_TOKEN=tok-123",
    ] {
        assert!(
            env.lines().any(|l| l == expected),
            "{expected} missing from env:\n{env}"
        );
    }
    let read = |path: &str| cluster.kubectl_ok(&["exec", "consumer", "--", "cat", path]);
    assert_eq!(read("/etc/config/greeting"), "hello");
    assert_eq!(read("/etc/config/COLOR"), "blue");
    assert_eq!(read("/etc/secret/password"), "s3cret");
    assert_eq!(read("/etc/secret/API_TOKEN"), "tok-123");

    cluster.apply(&manifest("changed"));
    wait_until(
        "the changed ConfigMap reaches the mounted file",
        Duration::from_secs(75),
        || {
            cluster
                .kubectl(&["exec", "consumer", "--", "cat", "/etc/config/greeting"])
                .stdout
                == b"changed"
        },
    );
    // The environment is fixed at container start.
    let env = cluster.kubectl_ok(&["exec", "consumer", "--", "env"]);
    assert!(env.lines().any(|l| l == "GREETING=hello"), "{env}");
}
