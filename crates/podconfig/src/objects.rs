//! The API objects a pod's configuration refers to, read once and then handed to the pure
//! resolvers as a snapshot ([`Objects`]).

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume, PersistentVolumeClaim, Secret};
use kube::Api;

/// Reading an object from the API server failed (other than "not found").
#[derive(Debug, thiserror::Error)]
#[error("reading {kind} {namespace}/{name}: {source}")]
pub struct FetchError {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    #[source]
    pub source: Box<kube::Error>,
}

/// ConfigMaps and Secrets of one namespace by name; `None` records that the object does not
/// exist, so optional references can be told apart from unread ones.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    pub namespace: String,
    pub config_maps: BTreeMap<String, Option<ConfigMap>>,
    pub secrets: BTreeMap<String, Option<Secret>>,
}

/// The names of ConfigMaps and Secrets to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct References {
    pub config_maps: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
}

impl Objects {
    /// The ConfigMap `name`, if it exists (and was read).
    pub fn config_map(&self, name: &str) -> Option<&ConfigMap> {
        self.config_maps.get(name).and_then(Option::as_ref)
    }

    /// The Secret `name`, if it exists (and was read).
    pub fn secret(&self, name: &str) -> Option<&Secret> {
        self.secrets.get(name).and_then(Option::as_ref)
    }

    /// Reads every referenced object of `namespace`; missing objects are recorded as `None`.
    pub async fn fetch(
        client: &kube::Client,
        namespace: &str,
        refs: &References,
    ) -> Result<Self, FetchError> {
        let mut objects = Objects {
            namespace: namespace.to_string(),
            ..Objects::default()
        };
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), namespace);
        for name in &refs.config_maps {
            let found = get_opt(&config_maps, "configmap", namespace, name).await?;
            objects.config_maps.insert(name.clone(), found);
        }
        let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
        for name in &refs.secrets {
            let found = get_opt(&secrets, "secret", namespace, name).await?;
            objects.secrets.insert(name.clone(), found);
        }
        Ok(objects)
    }
}

async fn get_opt<K>(
    api: &Api<K>,
    kind: &'static str,
    namespace: &str,
    name: &str,
) -> Result<Option<K>, FetchError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.map_err(|source| FetchError {
        kind,
        namespace: namespace.to_string(),
        name: name.to_string(),
        source: Box::new(source),
    })
}

/// Reads a PersistentVolumeClaim of `namespace`; `None` if it does not exist.
pub async fn fetch_claim(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> Result<Option<PersistentVolumeClaim>, FetchError> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
    get_opt(&api, "persistentvolumeclaim", namespace, name).await
}

/// Reads a PersistentVolume; `None` if it does not exist.
pub async fn fetch_volume(
    client: &kube::Client,
    name: &str,
) -> Result<Option<PersistentVolume>, FetchError> {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    get_opt(&api, "persistentvolume", "", name).await
}
