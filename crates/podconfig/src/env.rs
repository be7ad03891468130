//! A container's environment: `envFrom`, then `env` in order, with `$(VAR)` expansion over
//! the variables defined before it; a later definition of a name overrides an earlier one.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::PodRuntimeInfo;
use crate::expand::expand_with;
use crate::fieldref::{FieldError, field_value, resource_value};
use crate::objects::{FetchError, Objects, References};

/// Why a container's environment could not be built; the kubelet reports it as the
/// container's `CreateContainerConfigError`.
#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error("configmap {namespace}/{name} not found")]
    ConfigMapNotFound { namespace: String, name: String },
    #[error("couldn't find key {key} in configmap {namespace}/{name}")]
    ConfigMapKeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("secret {namespace}/{name} not found")]
    SecretNotFound { namespace: String, name: String },
    #[error("couldn't find key {key} in secret {namespace}/{name}")]
    SecretKeyNotFound {
        namespace: String,
        name: String,
        key: String,
    },
    #[error("env var {var}: {source}")]
    Field {
        var: String,
        #[source]
        source: FieldError,
    },
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// The environment of `container`, reading the ConfigMaps and Secrets it refers to.
pub async fn container_env(
    client: &kube::Client,
    pod: &Pod,
    container: &Container,
    info: &PodRuntimeInfo,
    allocatable: &BTreeMap<String, Quantity>,
) -> Result<Vec<(String, String)>, EnvError> {
    let namespace = pod.metadata.namespace.as_deref().unwrap_or("default");
    let objects = Objects::fetch(client, namespace, &env_references(container)).await?;
    resolve_env(pod, container, info, allocatable, &objects)
}

/// The ConfigMaps and Secrets that `container`'s environment refers to.
pub fn env_references(container: &Container) -> References {
    let mut refs = References::default();
    for from in container.env_from.iter().flatten() {
        if let Some(cm) = &from.config_map_ref {
            refs.config_maps.insert(cm.name.clone());
        }
        if let Some(secret) = &from.secret_ref {
            refs.secrets.insert(secret.name.clone());
        }
    }
    for var in container.env.iter().flatten() {
        let Some(source) = &var.value_from else {
            continue;
        };
        if let Some(cm) = &source.config_map_key_ref {
            refs.config_maps.insert(cm.name.clone());
        }
        if let Some(secret) = &source.secret_key_ref {
            refs.secrets.insert(secret.name.clone());
        }
    }
    refs
}

/// Names kept in definition order; redefining a name replaces its value in place.
#[derive(Default)]
struct EnvList {
    vars: Vec<(String, String)>,
    index: BTreeMap<String, usize>,
}

impl EnvList {
    fn set(&mut self, name: String, value: String) {
        match self.index.get(&name) {
            Some(&at) => self.vars[at].1 = value,
            None => {
                self.index.insert(name.clone(), self.vars.len());
                self.vars.push((name, value));
            }
        }
    }

    fn get(&self, name: &str) -> Option<String> {
        self.index.get(name).map(|&at| self.vars[at].1.clone())
    }
}

/// The environment of `container` from already-read `objects` (pure).
pub fn resolve_env(
    pod: &Pod,
    container: &Container,
    info: &PodRuntimeInfo,
    allocatable: &BTreeMap<String, Quantity>,
    objects: &Objects,
) -> Result<Vec<(String, String)>, EnvError> {
    let namespace = objects.namespace.clone();
    let mut env = EnvList::default();
    for from in container.env_from.iter().flatten() {
        let prefix = from.prefix.as_deref().unwrap_or("");
        if let Some(cm_ref) = &from.config_map_ref {
            match objects.config_map(&cm_ref.name) {
                Some(cm) => {
                    for (key, value) in cm.data.iter().flatten() {
                        set_checked(
                            &mut env,
                            prefix,
                            key,
                            value.clone(),
                            "configmap",
                            &cm_ref.name,
                        );
                    }
                }
                None if cm_ref.optional == Some(true) => {}
                None => {
                    return Err(EnvError::ConfigMapNotFound {
                        namespace,
                        name: cm_ref.name.clone(),
                    });
                }
            }
        }
        if let Some(secret_ref) = &from.secret_ref {
            match objects.secret(&secret_ref.name) {
                Some(secret) => {
                    for (key, value) in secret.data.iter().flatten() {
                        let value = String::from_utf8_lossy(&value.0).into_owned();
                        set_checked(&mut env, prefix, key, value, "secret", &secret_ref.name);
                    }
                }
                None if secret_ref.optional == Some(true) => {}
                None => {
                    return Err(EnvError::SecretNotFound {
                        namespace,
                        name: secret_ref.name.clone(),
                    });
                }
            }
        }
    }
    for var in container.env.iter().flatten() {
        let field_err = |source| EnvError::Field {
            var: var.name.clone(),
            source,
        };
        let literal = var.value.as_deref().unwrap_or("");
        let value = if !literal.is_empty() {
            expand_with(literal, |name| env.get(name))
        } else if let Some(source) = &var.value_from {
            if let Some(field) = &source.field_ref {
                field_value(pod, info, field).map_err(field_err)?
            } else if let Some(resource) = &source.resource_field_ref {
                resource_value(pod, Some(container), resource, allocatable).map_err(field_err)?
            } else if let Some(key_ref) = &source.config_map_key_ref {
                let optional = key_ref.optional == Some(true);
                let Some(cm) = objects.config_map(&key_ref.name) else {
                    if optional {
                        continue;
                    }
                    return Err(EnvError::ConfigMapNotFound {
                        namespace,
                        name: key_ref.name.clone(),
                    });
                };
                match cm.data.as_ref().and_then(|d| d.get(&key_ref.key)) {
                    Some(value) => value.clone(),
                    None if optional => continue,
                    None => {
                        return Err(EnvError::ConfigMapKeyNotFound {
                            namespace,
                            name: key_ref.name.clone(),
                            key: key_ref.key.clone(),
                        });
                    }
                }
            } else if let Some(key_ref) = &source.secret_key_ref {
                let optional = key_ref.optional == Some(true);
                let Some(secret) = objects.secret(&key_ref.name) else {
                    if optional {
                        continue;
                    }
                    return Err(EnvError::SecretNotFound {
                        namespace,
                        name: key_ref.name.clone(),
                    });
                };
                match secret.data.as_ref().and_then(|d| d.get(&key_ref.key)) {
                    Some(value) => String::from_utf8_lossy(&value.0).into_owned(),
                    None if optional => continue,
                    None => {
                        return Err(EnvError::SecretKeyNotFound {
                            namespace,
                            name: key_ref.name.clone(),
                            key: key_ref.key.clone(),
                        });
                    }
                }
            } else {
                String::new()
            }
        } else {
            String::new()
        };
        env.set(var.name.clone(), value);
    }
    Ok(env.vars)
}

/// Adds an `envFrom` entry, skipping (with a warning) keys that are not valid env var names.
fn set_checked(env: &mut EnvList, prefix: &str, key: &str, value: String, kind: &str, name: &str) {
    let full = format!("{prefix}{key}");
    if is_env_var_name(&full) {
        env.set(full, value);
    } else {
        tracing::warn!(%kind, %name, key = %full, "skipping invalid environment variable name from envFrom");
    }
}

/// Upstream's `IsEnvVarName`: `[-._a-zA-Z][-._a-zA-Z0-9]*`, and not `.`, `..` or `..`-prefixed.
pub fn is_env_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let head_ok = first.is_ascii_alphabetic() || matches!(first, '-' | '.' | '_');
    let tail_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    head_ok && tail_ok && !name.starts_with("..") && name != "."
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
