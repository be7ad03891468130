//! Upstream's ServiceAccount admission of new pods: default `spec.serviceAccountName` to
//! `default` and, unless automounting is off on the pod or its ServiceAccount, add the
//! `kube-api-access-*` projected volume (token, cluster CA, namespace) and mount it at
//! [`TOKEN_MOUNT_PATH`] in every container and init container that has nothing there.
//!
//! Deviation: a pod naming a ServiceAccount that does not exist (yet) is admitted, as if the
//! account allowed automounting; upstream refuses it with 403 until the account exists.

use serde_json::{Value, json};

use super::lookup;
use crate::error::ApiResult;
use crate::storage::Storage;

/// Where the token, CA and namespace appear in containers.
pub const TOKEN_MOUNT_PATH: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
/// The prefix of the projected volume's name.
pub const VOLUME_PREFIX: &str = "kube-api-access-";
/// The token lifetime the kubelet asks for (upstream's 3607 marks admission-made volumes).
pub const TOKEN_EXPIRATION_SECONDS: i64 = 3607;
/// The ConfigMap with the cluster CA, in every namespace.
pub const ROOT_CA_CONFIGMAP: &str = "kube-root-ca.crt";
const MIRROR_ANNOTATION: &str = "kubernetes.io/config.mirror";

/// The projected volume upstream adds.
pub fn token_volume(name: &str) -> Value {
    json!({
        "name": name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
                {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
            ],
        },
    })
}

/// The ServiceAccount a pod runs as (after defaulting).
pub fn service_account_name(pod: &Value) -> &str {
    let spec = &pod["spec"];
    [&spec["serviceAccountName"], &spec["serviceAccount"]]
        .into_iter()
        .filter_map(Value::as_str)
        .find(|s| !s.is_empty())
        .unwrap_or("default")
}

/// Whether a token is mounted: the pod's `automountServiceAccountToken` wins, then the
/// ServiceAccount's; both default to true.
pub fn automount(pod: &Value, account: Option<&Value>) -> bool {
    pod["spec"]["automountServiceAccountToken"]
        .as_bool()
        .or_else(|| account.and_then(|a| a["automountServiceAccountToken"].as_bool()))
        .unwrap_or(true)
}

/// Admits a new pod (the request body, before defaulting) given its ServiceAccount, if found.
/// `suffix` names a new volume (`kube-api-access-<suffix>`).
pub fn admit(pod: &mut Value, account: Option<&Value>, suffix: &str) {
    if !pod["spec"].is_object() || !pod["metadata"]["annotations"][MIRROR_ANNOTATION].is_null() {
        return;
    }
    let name = service_account_name(pod).to_string();
    pod["spec"]["serviceAccountName"] = json!(name);
    pod["spec"]["serviceAccount"] = json!(name);
    if !automount(pod, account) {
        return;
    }
    let spec = &mut pod["spec"];
    let existing = spec["volumes"].as_array().and_then(|vs| {
        vs.iter()
            .filter_map(|v| v["name"].as_str())
            .find(|n| n.starts_with(VOLUME_PREFIX))
            .map(str::to_string)
    });
    let volume_name = existing
        .clone()
        .unwrap_or_else(|| format!("{VOLUME_PREFIX}{suffix}"));
    let mount = json!({"name": volume_name, "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
    let mut needed = false;
    for list in ["initContainers", "containers"] {
        let Some(containers) = spec[list].as_array_mut() else {
            continue;
        };
        for c in containers.iter_mut().filter(|c| c.is_object()) {
            let has = c["volumeMounts"]
                .as_array()
                .is_some_and(|ms| ms.iter().any(|m| m["mountPath"] == TOKEN_MOUNT_PATH));
            if has {
                continue;
            }
            match c["volumeMounts"].as_array_mut() {
                Some(ms) => ms.push(mount.clone()),
                None => c["volumeMounts"] = json!([mount.clone()]),
            }
            needed = true;
        }
    }
    if needed && existing.is_none() {
        match spec["volumes"].as_array_mut() {
            Some(vs) => vs.push(token_volume(&volume_name)),
            None => spec["volumes"] = json!([token_volume(&volume_name)]),
        }
    }
}

/// Reads the pod's ServiceAccount and admits the pod. Bodies without a spec are left to the
/// validation that follows.
pub async fn admit_pod(storage: &Storage, ns: &str, pod: &mut Value) -> ApiResult<()> {
    if !pod["spec"].is_object() {
        return Ok(());
    }
    let account = lookup(
        storage,
        "serviceaccounts",
        Some(ns),
        service_account_name(pod),
    )
    .await?;
    admit(pod, account.as_ref(), &crate::storage::random_suffix());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounts(pod: &Value, list: &str, i: usize) -> Vec<Value> {
        pod["spec"][list][i]["volumeMounts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn defaults_and_mounts() {
        let mut pod = json!({"spec": {"containers": [{"name": "a"}, {"name": "b", "volumeMounts": [{"name": "mine", "mountPath": TOKEN_MOUNT_PATH}]}],
                                      "initContainers": [{"name": "i"}]}});
        admit(&mut pod, None, "abcde");
        assert_eq!(pod["spec"]["serviceAccountName"], "default");
        assert_eq!(pod["spec"]["serviceAccount"], "default");
        assert_eq!(
            pod["spec"]["volumes"],
            json!([token_volume("kube-api-access-abcde")])
        );
        let want = json!({"name": "kube-api-access-abcde", "readOnly": true, "mountPath": TOKEN_MOUNT_PATH});
        assert_eq!(mounts(&pod, "containers", 0), [want.clone()]);
        assert_eq!(mounts(&pod, "containers", 1).len(), 1, "kept its own mount");
        assert_eq!(mounts(&pod, "initContainers", 0), [want]);
        // Admitting again changes nothing.
        let before = pod.clone();
        admit(&mut pod, None, "zzzzz");
        assert_eq!(pod, before);
    }

    #[test]
    fn automount_table() {
        let off = json!({"automountServiceAccountToken": false});
        let on = json!({"automountServiceAccountToken": true});
        let cases = [
            (json!({}), None, true),
            (json!({}), Some(&off), false),
            (
                json!({"automountServiceAccountToken": true}),
                Some(&off),
                true,
            ),
            (
                json!({"automountServiceAccountToken": false}),
                Some(&on),
                false,
            ),
            (json!({"automountServiceAccountToken": false}), None, false),
        ];
        for (spec, account, want) in cases {
            let mut pod = json!({"spec": spec.clone()});
            pod["spec"]["containers"] = json!([{"name": "c"}]);
            admit(&mut pod, account, "abcde");
            assert_eq!(
                pod["spec"]["volumes"].is_array(),
                want,
                "{spec} {account:?}"
            );
            assert_eq!(pod["spec"]["serviceAccountName"], "default");
        }
    }

    #[test]
    fn names_and_exceptions() {
        let mut pod = json!({"spec": {"serviceAccount": "legacy", "containers": [{"name": "c"}]}});
        admit(&mut pod, None, "abcde");
        assert_eq!(pod["spec"]["serviceAccountName"], "legacy");
        let mut pod =
            json!({"spec": {"serviceAccountName": "builder", "containers": [{"name": "c"}]}});
        admit(&mut pod, None, "abcde");
        assert_eq!(service_account_name(&pod), "builder");
        let mut mirror = json!({"metadata": {"annotations": {MIRROR_ANNOTATION: "x"}}, "spec": {"containers": [{"name": "c"}]}});
        let before = mirror.clone();
        admit(&mut mirror, None, "abcde");
        assert_eq!(mirror, before);
        let mut reuse = json!({"spec": {"volumes": [{"name": "kube-api-access-old", "emptyDir": {}}], "containers": [{"name": "c"}]}});
        admit(&mut reuse, None, "abcde");
        assert_eq!(reuse["spec"]["volumes"].as_array().map(Vec::len), Some(1));
        assert_eq!(
            mounts(&reuse, "containers", 0)[0]["name"],
            "kube-api-access-old"
        );
        let mut garbage = json!({"spec": {"containers": [1, "x", null]}});
        admit(&mut garbage, None, "abcde");
        assert!(garbage["spec"]["volumes"].is_null());
    }
}
