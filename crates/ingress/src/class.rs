//! The IngressClass of the controller: created (as the cluster default) when missing, and
//! whether it is currently the default class.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::networking::v1::{IngressClass, IngressClassSpec};
use kube::Api;
use kube::api::{ObjectMeta, PostParams};

use crate::error::IngressError;

/// The controller name written to `spec.controller`.
pub const CONTROLLER: &str = "gantry.dev/ingress";
/// The annotation marking the cluster's default class.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// The IngressClass created when missing: ours, and the default.
pub fn desired(class: &str) -> IngressClass {
    IngressClass {
        metadata: ObjectMeta {
            name: Some(class.to_string()),
            annotations: Some(BTreeMap::from([(
                DEFAULT_CLASS_ANNOTATION.to_string(),
                "true".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        spec: Some(IngressClassSpec {
            controller: Some(CONTROLLER.to_string()),
            ..IngressClassSpec::default()
        }),
    }
}

/// Whether the class object says it is the default (the annotation is exactly `"true"`).
pub fn is_default(class: Option<&IngressClass>) -> bool {
    class
        .and_then(|c| c.metadata.annotations.as_ref())
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .is_some_and(|v| v == "true")
}

async fn ensure_once(api: &Api<IngressClass>, class: &str) -> Result<(), IngressError> {
    let fail = |source| IngressError::EnsureClass {
        class: class.to_string(),
        source,
    };
    if api.get_opt(class).await.map_err(fail)?.is_some() {
        return Ok(());
    }
    match api.create(&PostParams::default(), &desired(class)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Ok(()),
        Err(source) => Err(fail(source)),
    }
}

/// Creates the class if missing, retrying until the API answers; never touches an existing one.
pub async fn ensure(client: kube::Client, class: String) {
    let api = Api::<IngressClass>::all(client);
    let mut delay = Duration::from_millis(200);
    loop {
        match ensure_once(&api, &class).await {
            Ok(()) => return,
            Err(error) => tracing::warn!(%error, "retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_class_table() {
        let mut other = desired("gantry");
        other
            .metadata
            .annotations
            .as_mut()
            .map(|a| a.insert(DEFAULT_CLASS_ANNOTATION.into(), "false".into()));
        let cases = [
            (None, false),
            (Some(desired("gantry")), true),
            (Some(other), false),
        ];
        for (class, expected) in cases {
            assert_eq!(is_default(class.as_ref()), expected, "{class:?}");
        }
    }
}
