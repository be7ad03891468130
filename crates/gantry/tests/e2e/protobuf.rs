//! Protobuf as client-go speaks it, through curl with the kubeconfig's client certificate
//! (no Go here): gets, paged lists, Status errors, metadata-only lists and watch streams, decoded
//! with `k8s-pb` types; Tables and custom resources fall back to JSON.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use k8s_pb::api::core::v1::{Pod, PodList};
use k8s_pb::apimachinery::pkg::apis::meta::v1::{
    APIGroupList, APIResourceList, PartialObjectMetadataList, Status, WatchEvent,
};
use k8s_pb::apimachinery::pkg::runtime::Unknown;
use prost::Message;
use serde_json::Value;

use crate::harness::{Kubectl, Server};

/// What client-go's typed clients send.
const CLIENT_GO: &str = "application/vnd.kubernetes.protobuf, */*";
const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";

/// curl bound to the server's kubeconfig credentials, written out as PEM files.
struct Curl {
    base: String,
    files: [PathBuf; 3],
}

impl Curl {
    fn new(server: &Server) -> Curl {
        let yaml = std::fs::read_to_string(server.kubeconfig()).expect("reading the kubeconfig");
        let config: Value = serde_saphyr::from_str(&yaml).expect("the kubeconfig is YAML");
        let pem = |pointer: &str, file: &str| -> PathBuf {
            let b64 = config
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("kubeconfig has {pointer}"));
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .expect("kubeconfig data is base64");
            let path = server.data_dir().join(file);
            std::fs::write(&path, bytes).expect("writing a PEM file");
            path
        };
        let files = [
            pem("/users/0/user/client-certificate-data", "curl-client.crt"),
            pem("/users/0/user/client-key-data", "curl-client.key"),
            pem(
                "/clusters/0/cluster/certificate-authority-data",
                "curl-ca.crt",
            ),
        ];
        let base = config
            .pointer("/clusters/0/cluster/server")
            .and_then(Value::as_str)
            .expect("server URL")
            .to_string();
        Curl { base, files }
    }

    /// GETs `path` with `accept`; returns the status, the content type and the body.
    fn get(&self, path: &str, accept: &str) -> (u16, String, Vec<u8>) {
        let out_file = self.files[0].with_file_name("curl-body");
        let arg = |p: &Path| p.display().to_string();
        let out = Command::new("curl")
            .args([
                "-sS",
                "--max-time",
                "30",
                "--cert",
                &arg(&self.files[0]),
                "--key",
                &arg(&self.files[1]),
            ])
            .args([
                "--cacert",
                &arg(&self.files[2]),
                "-H",
                &format!("Accept: {accept}"),
                "-o",
                &arg(&out_file),
            ])
            .args([
                "-w",
                "%{http_code} %{content_type}",
                &format!("{}{path}", self.base),
            ])
            .output()
            .expect("running curl");
        assert!(
            out.status.success(),
            "curl {path}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let meta = String::from_utf8_lossy(&out.stdout).to_string();
        let (code, content_type) = meta.split_once(' ').unwrap_or((&meta, ""));
        (
            code.parse().unwrap_or(0),
            content_type.to_string(),
            std::fs::read(&out_file).unwrap_or_default(),
        )
    }
}

/// Checks the `k8s\0` envelope's type meta and decodes its `raw` as `M`.
fn unwrap<M: Message + Default>(body: &[u8], api_version: &str, kind: &str) -> M {
    let rest = body
        .strip_prefix(&gantry_protobuf::MAGIC)
        .unwrap_or_else(|| panic!("no k8s magic: {:?}", String::from_utf8_lossy(body)));
    let unknown = Unknown::decode(rest).expect("a runtime.Unknown envelope");
    let tm = unknown.type_meta.unwrap_or_default();
    assert_eq!(
        (tm.api_version.as_deref(), tm.kind.as_deref()),
        (Some(api_version), Some(kind))
    );
    M::decode(unknown.raw.unwrap_or_default().as_slice()).expect("the envelope's raw message")
}

#[test]
fn client_go_protobuf_gets_lists_errors_and_watches() {
    let server = Server::start();
    let k = Kubectl::new(&server, 33);
    for name in ["a", "b", "c"] {
        k.ok(&["run", name, "--image=nginx", "--labels=app=pb"]);
    }
    let curl = Curl::new(&server);

    let (code, ct, body) = curl.get("/api/v1/namespaces/default/pods/a", CLIENT_GO);
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let pod: Pod = unwrap(&body, "v1", "Pod");
    assert_eq!(pod.metadata.and_then(|m| m.name).as_deref(), Some("a"));

    let (code, ct, body) = curl.get(
        "/api/v1/namespaces/default/pods?limit=2",
        "application/vnd.kubernetes.protobuf,application/json",
    );
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let list: PodList = unwrap(&body, "v1", "PodList");
    let meta = list.metadata.unwrap_or_default();
    assert_eq!(list.items.len(), 2);
    assert!(
        meta.r#continue.is_some_and(|c| !c.is_empty()),
        "a paged list keeps its continue token"
    );
    assert!(meta.resource_version.is_some_and(|rv| !rv.is_empty()));

    let (code, ct, body) = curl.get("/api/v1/namespaces/default/pods/nope", CLIENT_GO);
    assert_eq!((code, ct.as_str()), (404, PROTOBUF));
    let status: Status = unwrap(&body, "v1", "Status");
    assert_eq!(
        (status.code, status.reason.as_deref()),
        (Some(404), Some("NotFound"))
    );

    let metadata = "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
    let (code, ct, body) = curl.get("/api/v1/namespaces/default/pods", metadata);
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let list: PartialObjectMetadataList =
        unwrap(&body, "meta.k8s.io/v1", "PartialObjectMetadataList");
    assert_eq!(list.items.len(), 3);

    // The server ends the watch after timeoutSeconds: the body holds the initial ADDED events.
    let (code, ct, body) = curl.get(
        "/api/v1/namespaces/default/pods?watch=1&timeoutSeconds=1",
        "application/vnd.kubernetes.protobuf;stream=watch, */*",
    );
    assert_eq!(
        (code, ct.as_str()),
        (200, "application/vnd.kubernetes.protobuf;stream=watch")
    );
    let mut rest = body.as_slice();
    let mut names = Vec::new();
    while let Some((message, tail)) =
        gantry_protobuf::split_frame(rest).expect("well-formed frames")
    {
        let event = WatchEvent::decode(message).expect("a raw WatchEvent");
        assert_eq!(event.r#type.as_deref(), Some("ADDED"));
        let pod: Pod = unwrap(
            &event.object.and_then(|o| o.raw).unwrap_or_default(),
            "v1",
            "Pod",
        );
        names.extend(pod.metadata.and_then(|m| m.name));
        rest = tail;
    }
    assert!(rest.is_empty(), "no partial frame at the end");
    names.sort();
    assert_eq!(names, ["a", "b", "c"]);

    // Discovery lists are protobuf upstream too (client-go's discovery client may ask for it).
    let (code, ct, body) = curl.get("/apis", CLIENT_GO);
    assert_eq!((code, ct.as_str()), (200, PROTOBUF));
    let groups: APIGroupList = unwrap(&body, "v1", "APIGroupList");
    assert!(
        groups
            .groups
            .iter()
            .any(|g| g.name.as_deref() == Some("apps"))
    );
    let (_, _, body) = curl.get("/api/v1", CLIENT_GO);
    let resources: APIResourceList = unwrap(&body, "v1", "APIResourceList");
    let pods = resources
        .resources
        .iter()
        .find(|r| r.name.as_deref() == Some("pods"));
    assert_eq!(pods.and_then(|r| r.namespaced), Some(true));
}

#[test]
fn tables_and_custom_resources_fall_back_to_json() {
    let server = Server::start();
    let k = Kubectl::new(&server, 33);
    k.ok(&["run", "a", "--image=nginx"]);
    let curl = Curl::new(&server);
    let table = "application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (code, ct, body) = curl.get("/api/v1/namespaces/default/pods", table);
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    let value: Value = serde_json::from_slice(&body).expect("a JSON Table");
    assert_eq!(value["kind"], "Table");

    let crd = r#"{"apiVersion":"apiextensions.k8s.io/v1","kind":"CustomResourceDefinition",
      "metadata":{"name":"widgets.example.com"},
      "spec":{"group":"example.com","scope":"Namespaced","names":{"plural":"widgets","singular":"widget","kind":"Widget"},
      "versions":[{"name":"v1","served":true,"storage":true,"schema":{"openAPIV3Schema":{"type":"object","x-kubernetes-preserve-unknown-fields":true}}}]}}"#;
    k.ok_stdin(&["apply", "-f", "-"], crd);
    k.ok(&[
        "wait",
        "--for=condition=Established",
        "crd/widgets.example.com",
    ]);
    let widget =
        r#"{"apiVersion":"example.com/v1","kind":"Widget","metadata":{"name":"w"},"size":3}"#;
    k.ok_stdin(&["apply", "-f", "-"], widget);
    let (code, ct, body) = curl.get(
        "/apis/example.com/v1/namespaces/default/widgets/w",
        CLIENT_GO,
    );
    assert_eq!((code, ct.as_str()), (200, "application/json"));
    let value: Value = serde_json::from_slice(&body).expect("a JSON Widget");
    assert_eq!(value["size"], 3);
    let (_, ct, _) = curl.get(
        "/apis/example.com/v1/namespaces/default/widgets?watch=1&timeoutSeconds=1",
        CLIENT_GO,
    );
    assert_eq!(
        ct, "application/json",
        "custom resources are watched in JSON"
    );
}
