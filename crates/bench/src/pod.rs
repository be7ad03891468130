//! The pod the benchmark writes: a realistic ~1.5 KB manifest (labels, annotations, two
//! containers with env, probes, resources and mounts), rendered from a template per name.

use bytes::Bytes;
use serde_json::json;

/// The annotation carrying the client's send time, in microseconds since the run's epoch.
pub const SENT_ANNOTATION: &str = "gantry-bench/sent-us";

const NAME: &str = "__NAME__";
const SENT: &str = "__SENT__";

/// A pre-serialized manifest with placeholders for the name and the send time.
pub struct PodTemplate {
    text: String,
}

impl PodTemplate {
    pub fn new(namespace: &str) -> PodTemplate {
        let manifest = json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": NAME,
                "namespace": namespace,
                "labels": {"app": "checkout", "tier": "backend", "release": "stable", "pod-template-hash": "7d4b9c8f6d"},
                "annotations": {
                    SENT_ANNOTATION: SENT,
                    "prometheus.io/scrape": "true",
                    "prometheus.io/port": "9090"
                }
            },
            "spec": {
                "serviceAccountName": "checkout",
                "restartPolicy": "Always",
                "terminationGracePeriodSeconds": 30,
                "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "backend", "effect": "NoSchedule"}],
                "containers": [
                    {
                        "name": "app",
                        "image": "registry.example.com/shop/checkout:1.42.3",
                        "imagePullPolicy": "IfNotPresent",
                        "command": ["/app/checkout"],
                        "args": ["--listen=:8080", "--metrics=:9090", "--log-level=info"],
                        "ports": [
                            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                            {"name": "metrics", "containerPort": 9090, "protocol": "TCP"}
                        ],
                        "env": [
                            {"name": "DATABASE_URL", "value": "postgres://checkout@db.shop.svc:5432/checkout"},
                            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                            {"name": "GOMAXPROCS", "value": "2"}
                        ],
                        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
                        "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 5},
                        "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout", "readOnly": true}, {"name": "tmp", "mountPath": "/tmp"}]
                    },
                    {
                        "name": "proxy",
                        "image": "registry.example.com/mesh/proxy:2.1.0",
                        "args": ["--upstream=127.0.0.1:8080"],
                        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}}
                    }
                ],
                "volumes": [{"name": "config", "configMap": {"name": "checkout-config"}}, {"name": "tmp", "emptyDir": {}}]
            }
        });
        PodTemplate {
            text: manifest.to_string(),
        }
    }

    /// The manifest for `name`, stamped with `sent_us`.
    pub fn render(&self, name: &str, sent_us: u64) -> Bytes {
        Bytes::from(
            self.text
                .replacen(NAME, name, 1)
                .replacen(SENT, &sent_us.to_string(), 1),
        )
    }
}

/// A JSON merge patch that only restamps the send time (and so produces a MODIFIED event).
pub fn restamp_patch(sent_us: u64) -> Bytes {
    Bytes::from(format!(
        r#"{{"metadata":{{"annotations":{{"{SENT_ANNOTATION}":"{sent_us}"}}}}}}"#
    ))
}

/// Finds the send time stamped into one encoded object or watch event, without parsing it.
pub fn find_sent_us(line: &[u8]) -> Option<u64> {
    let key = SENT_ANNOTATION.as_bytes();
    let at = line.windows(key.len()).position(|w| w == key)? + key.len();
    let rest = line[at..].iter().skip_while(|b| !b.is_ascii_digit());
    let mut value: u64 = 0;
    let mut any = false;
    for b in rest.take_while(|b| b.is_ascii_digit()) {
        value = value.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
        any = true;
    }
    any.then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_realistic_size() {
        let body = PodTemplate::new("bench").render("bench-c64-12345", 1_000_000);
        assert!((1400..=1650).contains(&body.len()), "{} bytes", body.len());
        let pod: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(pod["metadata"]["name"], "bench-c64-12345");
        assert_eq!(find_sent_us(&body), Some(1_000_000));
    }

    #[test]
    fn finds_the_stamp_in_a_patch_and_an_event() {
        assert_eq!(find_sent_us(&restamp_patch(77)), Some(77));
        let event = br#"{"type":"MODIFIED","object":{"metadata":{"annotations":{"gantry-bench/sent-us": "123"}}}}"#;
        assert_eq!(find_sent_us(event), Some(123));
        assert_eq!(find_sent_us(br#"{"type":"BOOKMARK"}"#), None);
    }
}
