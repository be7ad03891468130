//! Images for containers: imagePullPolicy (Always, IfNotPresent, Never), pulls through CRI with
//! credentials from the pod's imagePullSecrets (`kubernetes.io/dockerconfigjson`), and the
//! waiting reasons upstream reports (ErrImagePull, ImagePullBackOff, ErrImageNeverPull).

use base64::Engine;
use gantry_cri::{Cri, api};
use k8s_openapi::api::core::v1::{Container, Pod, Secret};
use kube::Api;

/// An image that could not be made available, as the container's waiting state.
#[derive(Debug, Clone)]
pub struct ImageError {
    pub reason: &'static str,
    pub message: String,
}

/// The pull policy, defaulted as upstream (Always for `:latest` or no tag).
pub fn pull_policy(c: &Container) -> &str {
    if let Some(p) = c.image_pull_policy.as_deref() {
        return p;
    }
    let image = c.image.as_deref().unwrap_or_default();
    let name = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || name.split_once(':').is_some_and(|(_, tag)| tag != "latest") {
        "IfNotPresent"
    } else {
        "Always"
    }
}

/// The registry host of an image reference (`docker.io` when it names none).
pub fn registry_of(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// Credentials for `registry` out of dockerconfigjson documents.
pub fn auth_for(registry: &str, configs: &[serde_json::Value]) -> Option<api::AuthConfig> {
    for cfg in configs {
        let Some(auths) = cfg.get("auths").and_then(|a| a.as_object()) else {
            continue;
        };
        for (server, entry) in auths {
            let host = server
                .trim_start_matches("https://")
                .trim_start_matches("http://")
                .split('/')
                .next()
                .unwrap_or_default();
            let matches =
                host == registry || (registry == "docker.io" && host == "index.docker.io");
            if !matches {
                continue;
            }
            let text = |k: &str| {
                entry
                    .get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let (mut username, mut password) = (text("username"), text("password"));
            let auth = text("auth");
            if username.is_empty() && !auth.is_empty() {
                if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(&auth) {
                    let decoded = String::from_utf8_lossy(&decoded).to_string();
                    if let Some((u, p)) = decoded.split_once(':') {
                        (username, password) = (u.to_string(), p.to_string());
                    }
                }
            }
            return Some(api::AuthConfig {
                username,
                password,
                auth,
                server_address: server.clone(),
                ..Default::default()
            });
        }
    }
    None
}

async fn pull_secrets(client: &kube::Client, pod: &Pod) -> Vec<serde_json::Value> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let mut out = vec![];
    for r in pod
        .spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.clone())
        .unwrap_or_default()
    {
        let Ok(secret) = api.get(&r.name).await else {
            tracing::warn!(secret = %r.name, "image pull secret not found");
            continue;
        };
        let data = secret.data.unwrap_or_default();
        for key in [".dockerconfigjson", ".dockercfg"] {
            if let Some(bytes) = data.get(key) {
                if let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&bytes.0) {
                    if key == ".dockercfg" {
                        v = serde_json::json!({"auths": v});
                    }
                    out.push(v);
                }
            }
        }
    }
    out
}

async fn present(cri: &Cri, image: &str) -> Result<Option<String>, ImageError> {
    let req = api::ImageStatusRequest {
        image: Some(api::ImageSpec {
            image: image.into(),
            ..Default::default()
        }),
        verbose: false,
    };
    match cri.image.clone().image_status(req).await {
        Ok(r) => Ok(r.into_inner().image.map(|i| i.id)),
        Err(s) => Err(ImageError {
            reason: "ErrImagePull",
            message: s.message().to_string(),
        }),
    }
}

/// Makes the container's image available; returns its image ID.
pub async fn ensure(
    cri: &Cri,
    client: &kube::Client,
    pod: &Pod,
    c: &Container,
) -> Result<String, ImageError> {
    let image = c.image.clone().unwrap_or_default();
    if image.is_empty() {
        return Err(ImageError {
            reason: "InvalidImageName",
            message: "container has no image".into(),
        });
    }
    let policy = pull_policy(c);
    if policy != "Always" {
        if let Some(id) = present(cri, &image).await? {
            return Ok(id);
        }
        if policy == "Never" {
            return Err(ImageError {
                reason: "ErrImageNeverPull",
                message: format!(
                    "Container image \"{image}\" is not present with pull policy of Never"
                ),
            });
        }
    }
    let configs = pull_secrets(client, pod).await;
    let auth = auth_for(registry_of(&image), &configs);
    let req = api::PullImageRequest {
        image: Some(api::ImageSpec {
            image: image.clone(),
            ..Default::default()
        }),
        auth,
        sandbox_config: None,
    };
    match cri.image.clone().pull_image(req).await {
        Ok(r) => Ok(r.into_inner().image_ref),
        Err(s) => Err(ImageError {
            reason: "ErrImagePull",
            message: format!("failed to pull image \"{image}\": {}", s.message()),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policies_default_by_tag() {
        let c = |image: &str| -> Container {
            serde_json::from_value(json!({"name": "c", "image": image})).expect("c")
        };
        assert_eq!(pull_policy(&c("busybox")), "Always");
        assert_eq!(pull_policy(&c("busybox:latest")), "Always");
        assert_eq!(pull_policy(&c("busybox:1.36")), "IfNotPresent");
        assert_eq!(pull_policy(&c("127.0.0.1:5000/busybox")), "Always");
        assert_eq!(pull_policy(&c("127.0.0.1:5000/busybox:v1")), "IfNotPresent");
        assert_eq!(pull_policy(&c("busybox@sha256:abc")), "IfNotPresent");
    }

    #[test]
    fn registries_and_credentials() {
        assert_eq!(registry_of("busybox"), "docker.io");
        assert_eq!(registry_of("library/busybox"), "docker.io");
        assert_eq!(registry_of("127.0.0.1:5000/x:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("gantry.local/pause:1"), "gantry.local");
        let cfg = json!({"auths": {"127.0.0.1:5000": {"auth": base64::engine::general_purpose::STANDARD.encode("alice:s3cret")}}});
        let a = auth_for("127.0.0.1:5000", &[cfg.clone()]).expect("auth");
        assert_eq!(
            (a.username.as_str(), a.password.as_str()),
            ("alice", "s3cret")
        );
        assert!(auth_for("other:5000", &[cfg]).is_none());
    }
}
