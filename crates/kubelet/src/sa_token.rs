//! Service account tokens for pods: asks the API server's TokenRequest subresource for a token
//! of the pod's ServiceAccount bound to the pod (default audience, 3607 seconds, as the
//! `kube-api-access-*` volume that admission adds asks for).

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use kube::api::{Api, PostParams};

/// The lifetime requested, as upstream's admission-made volumes.
pub const EXPIRATION_SECONDS: i64 = 3607;

/// The ServiceAccount whose token `pod` needs mounted, or `None` when it runs as none or
/// automounting is off (on the pod, or on its ServiceAccount: then admission added no
/// projected `serviceAccountToken` source).
pub fn account_needing_token(pod: &Pod) -> Option<&str> {
    let spec = pod.spec.as_ref()?;
    if spec.automount_service_account_token == Some(false) {
        return None;
    }
    let wants = spec.volumes.iter().flatten().any(|v| {
        v.projected
            .as_ref()
            .and_then(|p| p.sources.as_ref())
            .is_some_and(|sources| sources.iter().any(|s| s.service_account_token.is_some()))
    });
    if !wants {
        return None;
    }
    spec.service_account_name
        .as_deref()
        .or(spec.service_account.as_deref())
        .filter(|n| !n.is_empty())
}

/// A token for the pod's ServiceAccount bound to the pod, or `None` when the pod needs none.
pub async fn token_for(client: &kube::Client, pod: &Pod) -> Result<Option<String>, kube::Error> {
    let Some(account) = account_needing_token(pod) else {
        return Ok(None);
    };
    let (Some(namespace), Some(name)) = (
        pod.metadata.namespace.as_deref(),
        pod.metadata.name.as_deref(),
    ) else {
        return Ok(None);
    };
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: Vec::new(),
            expiration_seconds: Some(EXPIRATION_SECONDS),
            bound_object_ref: Some(BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some("Pod".into()),
                name: Some(name.to_string()),
                uid: pod.metadata.uid.clone(),
            }),
        },
        ..Default::default()
    };
    let answer = Api::<ServiceAccount>::namespaced(client.clone(), namespace)
        .create_token_request(account, &PostParams::default(), &request)
        .await?;
    Ok(answer.status.map(|s| s.token))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn which_pods_need_a_token() {
        let pod = |spec: serde_json::Value| -> Pod {
            serde_json::from_value(
                json!({"metadata": {"name": "p", "namespace": "n"}, "spec": spec}),
            )
            .unwrap()
        };
        let volume = json!([{"name": "kube-api-access-abcde", "projected": {"sources": [{"serviceAccountToken": {"path": "token"}}]}}]);
        let cases = [
            (
                json!({"containers": [], "serviceAccountName": "sa", "volumes": volume}),
                Some("sa"),
            ),
            (json!({"containers": [], "serviceAccountName": "sa"}), None),
            (json!({"containers": [], "volumes": volume}), None),
            (
                json!({"containers": [], "serviceAccountName": "sa", "automountServiceAccountToken": false, "volumes": volume}),
                None,
            ),
        ];
        for (spec, want) in cases {
            let p = pod(spec.clone());
            assert_eq!(account_needing_token(&p), want, "{spec}");
        }
    }
}
