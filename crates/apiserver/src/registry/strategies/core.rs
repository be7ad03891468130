//! Strategies of core resources other than pods: namespaces, services, nodes, secrets,
//! config maps, events and volumes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{child, default_field};
use crate::error::FieldError;
use crate::registry::strategy::{Pool, Reservation};
use crate::registry::{NameRule, Strategy};

pub struct NamespaceStrategy;

impl Strategy for NamespaceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Label
    }
    fn has_status(&self) -> bool {
        true
    }
    fn tracks_generation(&self) -> bool {
        false
    }
    fn prepare_create(&self, obj: &mut Value) {
        let name = obj["metadata"]["name"].clone();
        if let Some(labels) = child(obj, "metadata").and_then(|m| child(m, "labels")) {
            labels["kubernetes.io/metadata.name"] = name;
        }
        obj["spec"] = json!({"finalizers": ["kubernetes"]});
        obj["status"] = json!({"phase": "Active"});
    }
    fn prepare_update(&self, new: &mut Value, old: &Value) {
        let name = old["metadata"]["name"].clone();
        if let Some(labels) = child(new, "metadata").and_then(|m| child(m, "labels")) {
            labels["kubernetes.io/metadata.name"] = name;
        }
        new["spec"] = old["spec"].clone();
    }
    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.phase"]
    }
}

pub struct ServiceStrategy;

impl Strategy for ServiceStrategy {
    fn name_rule(&self) -> NameRule {
        NameRule::Label1035
    }
    fn has_status(&self) -> bool {
        true
    }
    fn tracks_generation(&self) -> bool {
        false
    }
    fn prepare_create(&self, obj: &mut Value) {
        obj["status"] = json!({"loadBalancer": {}});
    }
    fn default(&self, obj: &mut Value) {
        if let Some(spec) = child(obj, "spec") {
            default_field(spec, "type", json!("ClusterIP"));
            default_field(spec, "sessionAffinity", json!("None"));
            default_field(spec, "ipFamilies", json!(["IPv4"]));
            default_field(spec, "ipFamilyPolicy", json!("SingleStack"));
            default_field(spec, "internalTrafficPolicy", json!("Cluster"));
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    default_field(p, "protocol", json!("TCP"));
                    let port = p["port"].clone();
                    default_field(p, "targetPort", port);
                }
            }
        }
    }
    fn prepare_update(&self, new: &mut Value, old: &Value) {
        // Allocated addresses belong to the server: an update that omits them keeps them.
        for field in ["clusterIP", "clusterIPs"] {
            if new["spec"][field].is_null() && !old["spec"][field].is_null() {
                if let Some(spec) = child(new, "spec") {
                    spec[field] = old["spec"][field].clone();
                }
            }
        }
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let spec = &obj["spec"];
        let mut errors = Vec::new();
        let kind = spec["type"].as_str().unwrap_or("ClusterIP");
        if !matches!(
            kind,
            "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
        ) {
            errors.push(FieldError {
                reason: "FieldValueNotSupported",
                field: "spec.type".into(),
                message: format!("Unsupported value: \"{kind}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\""),
            });
        }
        let ports = spec["ports"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        let headless = spec["clusterIP"] == "None";
        if ports.is_empty() && kind != "ExternalName" && !headless {
            errors.push(FieldError::required("spec.ports"));
        }
        if kind == "ExternalName" && spec["externalName"].as_str().is_none_or(str::is_empty) {
            errors.push(FieldError::required("spec.externalName"));
        }
        for (i, p) in ports.iter().enumerate() {
            let port = p["port"].as_i64().unwrap_or(0);
            if !(1..=65535).contains(&port) {
                errors.push(FieldError::invalid(
                    format!("spec.ports[{i}].port"),
                    format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
                ));
            }
            if ports.len() > 1 && p["name"].as_str().is_none_or(str::is_empty) {
                errors.push(FieldError::required(format!("spec.ports[{i}].name")));
            }
        }
        errors
    }
    fn uses_pools(&self) -> bool {
        true
    }
    fn reservations(&self, obj: &Value) -> Vec<Reservation> {
        let spec = &obj["spec"];
        let mut out = Vec::new();
        if let Some(ip) = spec["clusterIP"]
            .as_str()
            .filter(|ip| !ip.is_empty() && *ip != "None")
        {
            out.push(Reservation {
                pool: Pool::ServiceIp,
                value: ip.to_string(),
                field: "spec.clusterIPs[0]".into(),
            });
        }
        for (i, port) in spec["ports"].as_array().into_iter().flatten().enumerate() {
            if let Some(n) = port["nodePort"].as_i64().filter(|n| *n != 0) {
                out.push(Reservation {
                    pool: Pool::NodePort,
                    value: n.to_string(),
                    field: format!("spec.ports[{i}].nodePort"),
                });
            }
        }
        out
    }
    fn assign(
        &self,
        obj: &mut Value,
        _old: Option<&Value>,
        allocate: &mut dyn FnMut(Pool) -> Option<String>,
    ) {
        let Some(spec) = obj.get_mut("spec") else {
            return;
        };
        let kind = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
        if kind == "ExternalName" {
            return;
        }
        if spec["clusterIP"].as_str().is_none_or(str::is_empty) {
            if let Some(ip) = allocate(Pool::ServiceIp) {
                spec["clusterIP"] = json!(ip);
            }
        }
        if let Some(ip) = spec["clusterIP"].as_str().map(str::to_string) {
            spec["clusterIPs"] = json!([ip]);
        }
        let wants_node_ports = matches!(kind.as_str(), "NodePort" | "LoadBalancer");
        if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
            for port in ports {
                let missing = port["nodePort"].as_i64().is_none_or(|n| n == 0);
                if wants_node_ports && missing {
                    if let Some(n) = allocate(Pool::NodePort).and_then(|p| p.parse::<i64>().ok()) {
                        port["nodePort"] = json!(n);
                    }
                } else if !wants_node_ports {
                    // A ClusterIP service holds no node ports; changing the type frees them.
                    if let Some(m) = port.as_object_mut() {
                        m.remove("nodePort");
                    }
                }
            }
        }
    }
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let (new_ip, old_ip) = (&new["spec"]["clusterIP"], &old["spec"]["clusterIP"]);
        if !old_ip.is_null() && new_ip != old_ip {
            return vec![FieldError::invalid("spec.clusterIP", "field is immutable")];
        }
        Vec::new()
    }
}

pub struct NodeStrategy;

impl Strategy for NodeStrategy {
    fn has_status(&self) -> bool {
        true
    }
    fn tracks_generation(&self) -> bool {
        false
    }
    fn selectable_fields(&self) -> &'static [&'static str] {
        &["spec.unschedulable"]
    }
}

/// Secrets and ConfigMaps: data keys must be valid config keys, and immutable objects stay so.
pub struct DataStrategy {
    pub secret: bool,
}

fn is_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Strategy for DataStrategy {
    fn tracks_generation(&self) -> bool {
        false
    }
    fn default(&self, obj: &mut Value) {
        if !self.secret {
            return;
        }
        default_field(obj, "type", json!("Opaque"));
        // stringData is write-only: it is folded into data, base64-encoded.
        if let Some(Value::Object(strings)) =
            obj.as_object_mut().and_then(|m| m.remove("stringData"))
        {
            if let Some(data) = child(obj, "data") {
                for (k, v) in strings {
                    data[k] = json!(STANDARD.encode(v.as_str().unwrap_or_default()));
                }
            }
        }
    }
    fn validate(&self, obj: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for field in ["data", "stringData", "binaryData"] {
            for key in obj[field].as_object().into_iter().flat_map(|m| m.keys()) {
                if !is_config_key(key) {
                    errors.push(FieldError::invalid(
                        format!("{field}[{key}]"),
                        format!("Invalid value: \"{key}\": a valid config key must consist of alphanumeric characters, '-', '_' or '.'"),
                    ));
                }
            }
        }
        errors
    }
    fn validate_update(&self, new: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if old["immutable"] == json!(true) {
            for field in ["data", "binaryData", "immutable"] {
                if new[field] != old[field] {
                    errors.push(FieldError::forbidden(
                        field,
                        "field is immutable when `immutable` is set",
                    ));
                }
            }
        }
        if self.secret && new["type"] != old["type"] {
            errors.push(FieldError::invalid("type", "field is immutable"));
        }
        errors
    }
    fn selectable_fields(&self) -> &'static [&'static str] {
        if self.secret { &["type"] } else { &[] }
    }
}

pub struct EventStrategy;

impl Strategy for EventStrategy {
    fn tracks_generation(&self) -> bool {
        false
    }
    fn selectable_fields(&self) -> &'static [&'static str] {
        &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
            "regarding.kind",
            "regarding.name",
            "regarding.namespace",
            "regarding.uid",
        ]
    }
}

/// PersistentVolumes and claims: status owned by the subresource, phase Pending at start.
pub struct VolumeStrategy;

impl Strategy for VolumeStrategy {
    fn has_status(&self) -> bool {
        true
    }
    fn tracks_generation(&self) -> bool {
        false
    }
    fn prepare_create(&self, obj: &mut Value) {
        let phase = if obj["kind"] == "PersistentVolume" {
            "Available"
        } else {
            "Pending"
        };
        obj["status"] = json!({"phase": phase});
    }
    fn selectable_fields(&self) -> &'static [&'static str] {
        &["status.phase"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_validation_table() {
        let cases = [
            (json!({"spec": {"ports": [{"port": 80}]}}), vec![]),
            (json!({"spec": {}}), vec!["spec.ports"]),
            (json!({"spec": {"clusterIP": "None"}}), vec![]),
            (
                json!({"spec": {"type": "ExternalName"}}),
                vec!["spec.externalName"],
            ),
            (
                json!({"spec": {"ports": [{"port": 0}]}}),
                vec!["spec.ports[0].port"],
            ),
            (
                json!({"spec": {"ports": [{"port": 80}, {"port": 81}]}}),
                vec!["spec.ports[0].name", "spec.ports[1].name"],
            ),
            (
                json!({"spec": {"type": "Weird", "ports": [{"port": 80}]}}),
                vec!["spec.type"],
            ),
        ];
        for (obj, want) in cases {
            let got: Vec<String> = ServiceStrategy
                .validate(&obj)
                .into_iter()
                .map(|e| e.field)
                .collect();
            assert_eq!(got, want, "{obj}");
        }
    }

    #[test]
    fn service_reservations_and_assignment() {
        let mut svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 81, "nodePort": 30111}]}});
        let mut next = vec!["30222".to_string(), "10.43.7.7".to_string()];
        ServiceStrategy.assign(&mut svc, None, &mut |_| next.pop());
        assert_eq!(svc["spec"]["clusterIP"], "10.43.7.7");
        assert_eq!(svc["spec"]["clusterIPs"], json!(["10.43.7.7"]));
        assert_eq!(svc["spec"]["ports"][0]["nodePort"], 30222);
        assert_eq!(svc["spec"]["ports"][1]["nodePort"], 30111);
        let held: Vec<(Pool, String)> = ServiceStrategy
            .reservations(&svc)
            .into_iter()
            .map(|r| (r.pool, r.value))
            .collect();
        assert_eq!(
            held,
            vec![
                (Pool::ServiceIp, "10.43.7.7".into()),
                (Pool::NodePort, "30222".into()),
                (Pool::NodePort, "30111".into())
            ]
        );
        let mut headless = json!({"spec": {"clusterIP": "None"}});
        ServiceStrategy.assign(&mut headless, None, &mut |_| Some("10.43.0.9".into()));
        assert!(ServiceStrategy.reservations(&headless).is_empty());
        let mut external = json!({"spec": {"type": "ExternalName", "externalName": "example.com"}});
        ServiceStrategy.assign(&mut external, None, &mut |_| Some("10.43.0.9".into()));
        assert!(external["spec"]["clusterIP"].is_null());
    }

    #[test]
    fn config_keys_and_immutability() {
        let s = DataStrategy { secret: false };
        assert!(
            s.validate(&json!({"data": {"a.conf": "x", "B_2-c": "y"}}))
                .is_empty()
        );
        assert_eq!(s.validate(&json!({"data": {"a/b": "x"}})).len(), 1);
        let old = json!({"immutable": true, "data": {"a": "1"}});
        assert_eq!(
            s.validate_update(&json!({"immutable": true, "data": {"a": "2"}}), &old)
                .len(),
            1
        );
        assert!(s.validate_update(&old, &old).is_empty());
    }

    #[test]
    fn secret_string_data_folds_into_data() {
        let mut secret = json!({"data": {"a": "eA=="}, "stringData": {"b": "hunter2"}});
        DataStrategy { secret: true }.default(&mut secret);
        assert_eq!(
            secret,
            json!({"type": "Opaque", "data": {"a": "eA==", "b": "aHVudGVyMg=="}})
        );
    }

    #[test]
    fn namespaces_get_their_name_label_and_finalizer() {
        let mut ns = json!({"metadata": {"name": "team-a"}});
        NamespaceStrategy.prepare_create(&mut ns);
        assert_eq!(
            ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
            "team-a"
        );
        assert_eq!(ns["status"]["phase"], "Active");
        assert_eq!(ns["spec"]["finalizers"][0], "kubernetes");
    }
}
