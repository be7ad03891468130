//! A Deployment of busybox httpd in real containers: pod IPs, logs, exec (several kubectl
//! versions), port-forward and cp.

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::{
    BUSYBOX, Cluster, POD_DEADLINE, container_id, in_cidr16, is_running_ready, spawn_until_line,
    wait_until,
};

fn deployment() -> String {
    format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: httpd
        image: {BUSYBOX}
        imagePullPolicy: IfNotPresent
        command: ["sh", "-c", "mkdir -p /www && echo hello-from-gantry > /www/index.html && echo httpd starting on 80 && exec httpd -f -p 80 -h /www"]
        ports:
        - containerPort: 80
"#
    )
}

/// The names of the Running and Ready pods of the deployment.
fn ready_pods(cluster: &Cluster) -> Vec<serde_json::Value> {
    let Some(list) = cluster.get_json(&["get", "pods", "-l", "app=web"]) else {
        return Vec::new();
    };
    list["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(is_running_ready)
        .collect()
}

fn http_get(port: u16) -> std::io::Result<String> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(b"GET /index.html HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

#[test]
fn deployment_runs_and_serves_logs_exec_port_forward_and_cp() {
    let cluster = Cluster::start(1);
    cluster.apply(&deployment());
    let mut pods = Vec::new();
    wait_until("both replicas are Running and Ready", POD_DEADLINE, || {
        pods = ready_pods(&cluster);
        pods.len() == 2
    });
    for pod in &pods {
        let ip = pod["status"]["podIP"].as_str().expect("a pod IP");
        assert!(
            in_cidr16(ip, &cluster.cidr),
            "pod IP {ip} outside {}",
            cluster.cidr
        );
        let status = &pod["status"]["containerStatuses"][0];
        assert!(
            status["containerID"]
                .as_str()
                .is_some_and(|id| id.starts_with("containerd://")),
            "{status}"
        );
        assert!(status["state"]["running"].is_object(), "{status}");
        let pid = cluster
            .task_pid(&container_id(pod))
            .unwrap_or_else(|| panic!("no running task for {status}"));
        let comm =
            std::fs::read_to_string(format!("/proc/{pid}/comm")).expect("reading the task's comm");
        assert_eq!(
            comm.trim(),
            "httpd",
            "the container's main process on the host"
        );
    }
    let name = pods[0]["metadata"]["name"]
        .as_str()
        .expect("pod name")
        .to_string();
    let pod = format!("pod/{name}");

    // Logs: what the container printed.
    let mut logs = String::new();
    wait_until(
        "kubectl logs shows the container's output",
        POD_DEADLINE,
        || {
            logs = String::from_utf8_lossy(&cluster.kubectl(&["logs", &name]).stdout).into_owned();
            logs.contains("httpd starting on 80")
        },
    );

    // Exec on three kubectl versions (SPDY and WebSocket streaming).
    for minor in [32, 27, 33] {
        let out = cluster.kubectl_version(minor, &["exec", &name, "--", "cat", "/www/index.html"]);
        assert!(
            out.status.success(),
            "kubectl 1.{minor} exec: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello-from-gantry\n",
            "kubectl 1.{minor} exec"
        );
        let out = cluster.kubectl_version(minor, &["exec", &name, "--", "sh", "-c", "exit 3"]);
        assert_eq!(
            out.status.code(),
            Some(3),
            "kubectl 1.{minor} exec exit code"
        );
    }

    // Port-forward to httpd: HTTP 200 with the page.
    let mut command = cluster.kubectl_command(32);
    command.args(["port-forward", &pod, ":80"]);
    let (mut forward, line) = spawn_until_line(command, "Forwarding from 127.0.0.1:", POD_DEADLINE);
    let port: u16 = line
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    let response = http_get(port);
    let _ = forward.kill();
    let _ = forward.wait();
    let response = response.expect("HTTP through port-forward");
    assert!(
        response.starts_with("HTTP/1.") && response.contains(" 200 "),
        "{response}"
    );
    assert!(response.contains("hello-from-gantry"), "{response}");

    // cp a file in and read it back (through the pod and out again).
    let local = cluster.data_dir().join("cp-in.txt");
    std::fs::write(&local, "copied into the pod\n").expect("writing the local file");
    cluster.kubectl_ok(&[
        "cp",
        local.to_str().unwrap(),
        &format!("{name}:/tmp/cp-in.txt"),
    ]);
    let inside = cluster.kubectl_ok(&["exec", &name, "--", "cat", "/tmp/cp-in.txt"]);
    assert_eq!(inside, "copied into the pod\n");
    let back = cluster.data_dir().join("cp-back.txt");
    cluster.kubectl_ok(&[
        "cp",
        &format!("{name}:/tmp/cp-in.txt"),
        back.to_str().unwrap(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&back).expect("reading the copy"),
        "copied into the pod\n"
    );
}
