//! Round trips of real objects: typed `k8s-pb` messages encoded by prost, decoded by us, compared
//! with what the equivalent `k8s-openapi` value serializes to; and our encoding read back by prost.

mod objects;

use anyhow::{Context, Result};
use k8s_pb::apimachinery::pkg::runtime::{TypeMeta, Unknown};
use prost::Message;
use serde_json::{Value, json};

/// Wraps `msg` in the `k8s\0` + `runtime.Unknown` envelope, as kubectl does.
fn envelope(api_version: &str, kind: &str, msg: &impl Message) -> Vec<u8> {
    let unknown = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(msg.encode_to_vec()),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [gantry_protobuf::MAGIC.as_slice(), &unknown.encode_to_vec()].concat()
}

/// The one check every object goes through: decode matches k8s-openapi's JSON of `expected`
/// (parsed as type `K`), and our encoding decodes back to the same JSON and, with prost, to the
/// same message.
fn check<M, K>(pb: M, expected: Value) -> Result<()>
where
    M: Message + Default + PartialEq + std::fmt::Debug,
    K: k8s_openapi::Resource + serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: K = serde_json::from_value(expected).context("expected JSON is a valid K")?;
    let want = serde_json::to_value(&typed)?;
    let body = envelope(K::API_VERSION, K::KIND, &pb);
    let got = gantry_protobuf::decode(&body)?;
    assert_eq!(got, want, "decode of {}", K::KIND);

    let encoded = gantry_protobuf::encode(&got)?;
    assert_eq!(
        gantry_protobuf::decode(&encoded)?,
        got,
        "re-decode of {}",
        K::KIND
    );
    let rest = encoded
        .strip_prefix(gantry_protobuf::MAGIC.as_slice())
        .context("magic")?;
    let unknown = Unknown::decode(rest)?;
    let type_meta = unknown.type_meta.context("type meta")?;
    assert_eq!(type_meta.api_version.as_deref(), Some(K::API_VERSION));
    assert_eq!(type_meta.kind.as_deref(), Some(K::KIND));
    let back = M::decode(unknown.raw.unwrap_or_default().as_slice())?;
    assert_eq!(back, pb, "prost decode of our encoding of {}", K::KIND);
    Ok(())
}

#[test]
fn config_map_with_data_and_binary_data() -> Result<()> {
    let (pb, json) = objects::config_map();
    check::<_, k8s_openapi::api::core::v1::ConfigMap>(pb, json)
}

#[test]
fn secret() -> Result<()> {
    let (pb, json) = objects::secret();
    check::<_, k8s_openapi::api::core::v1::Secret>(pb, json)
}

#[test]
fn namespace() -> Result<()> {
    let (pb, json) = objects::namespace();
    check::<_, k8s_openapi::api::core::v1::Namespace>(pb, json)
}

#[test]
fn deployment_with_pod_template() -> Result<()> {
    let (pb, json) = objects::deployment();
    check::<_, k8s_openapi::api::apps::v1::Deployment>(pb, json)
}

#[test]
fn service_with_int_and_string_target_ports() -> Result<()> {
    let (pb, json) = objects::service();
    check::<_, k8s_openapi::api::core::v1::Service>(pb, json)
}

#[test]
fn job_and_cron_job() -> Result<()> {
    let (pb, json) = objects::job();
    check::<_, k8s_openapi::api::batch::v1::Job>(pb, json)?;
    let (pb, json) = objects::cron_job();
    check::<_, k8s_openapi::api::batch::v1::CronJob>(pb, json)
}

#[test]
fn role_and_role_binding() -> Result<()> {
    let (pb, json) = objects::role();
    check::<_, k8s_openapi::api::rbac::v1::Role>(pb, json)?;
    let (pb, json) = objects::role_binding();
    check::<_, k8s_openapi::api::rbac::v1::RoleBinding>(pb, json)
}

#[test]
fn pod_with_status_times() -> Result<()> {
    let (pb, json) = objects::pod();
    check::<_, k8s_openapi::api::core::v1::Pod>(pb, json)
}

#[test]
fn lease_with_micro_times() -> Result<()> {
    let (pb, json) = objects::lease();
    check::<_, k8s_openapi::api::coordination::v1::Lease>(pb, json)
}

#[test]
fn status_error() -> Result<()> {
    let (pb, json) = objects::status();
    check::<_, k8s_openapi::apimachinery::pkg::apis::meta::v1::Status>(pb, json)
}

#[test]
fn go_zero_values_follow_kubernetes_json() -> Result<()> {
    // What Go writes for `kubectl create namespace x`: non-pointer strings even when empty, and a
    // zero creationTimestamp as an empty message.
    use k8s_pb::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
    let pb = k8s_pb::api::core::v1::Namespace {
        metadata: Some(ObjectMeta {
            name: Some("x".into()),
            generate_name: Some(String::new()),
            namespace: Some(String::new()),
            creation_timestamp: Some(Time::default()),
            ..Default::default()
        }),
        spec: Some(Default::default()),
        status: Some(k8s_pb::api::core::v1::NamespaceStatus {
            phase: Some(String::new()),
            ..Default::default()
        }),
    };
    let got = gantry_protobuf::decode(&envelope("v1", "Namespace", &pb))?;
    let want = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "x"}, "spec": {}, "status": {},
    });
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn delete_options_under_any_group_version() -> Result<()> {
    let pb = k8s_pb::apimachinery::pkg::apis::meta::v1::DeleteOptions {
        grace_period_seconds: Some(0),
        propagation_policy: Some("Foreground".into()),
        ..Default::default()
    };
    let got = gantry_protobuf::decode(&envelope("apps/v1", "DeleteOptions", &pb))?;
    let want = json!({
        "apiVersion": "apps/v1", "kind": "DeleteOptions",
        "gracePeriodSeconds": 0, "propagationPolicy": "Foreground",
    });
    assert_eq!(got, want);
    Ok(())
}

#[test]
fn encode_rejects_bad_json() {
    use gantry_protobuf::EncodeError;
    let cases = [
        json!({"kind": "Pod"}),
        json!({"apiVersion": "v1", "kind": "Nope"}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": "x"}),
        json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": {}}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "binaryData": {"a": "!!"}}),
        json!({"apiVersion": "v1", "kind": "Pod", "status": {"startTime": "soon"}}),
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "spec": {"replicas": 1e10}}),
    ];
    for case in cases {
        let err = gantry_protobuf::encode(&case);
        assert!(
            matches!(
                err,
                Err(EncodeError::MissingTypeMeta(_)
                    | EncodeError::UnknownKind { .. }
                    | EncodeError::Type { .. }
                    | EncodeError::Value { .. })
            ),
            "{case}: {err:?}"
        );
    }
}
