//! The API server's proxy to kubelets, as upstream kube-apiserver: `pods/log`, `pods/exec`,
//! `pods/attach` and `pods/portforward` go to the kubelet of the pod's node
//! (`/containerLogs/...`, `/exec/...`, `/attach/...`, `/portForward/...`), and
//! `nodes/NAME/proxy/PATH` to `PATH` on that node's kubelet.
//!
//! `target` decides where a request goes (pure); `forward` carries it there.

mod forward;
mod target;

use hyper::body::Incoming;
use hyper::{Method, Request};

use crate::error::{ApiError, ApiResult};
use crate::pki::Pki;
use crate::response::Response;
use crate::storage::Storage;

pub use target::{
    KubeletEndpoint, PodSubresource, PodTarget, container, kubelet_endpoint, pod_target,
};

/// Proxies requests to kubelets.
pub struct KubeletProxy {
    client: forward::KubeletClient,
}

impl KubeletProxy {
    /// A proxy authenticating to kubelets with the API server's kubelet client certificate.
    pub fn new(pki: &Pki) -> Result<KubeletProxy, String> {
        Ok(KubeletProxy {
            client: forward::KubeletClient::new(pki)?,
        })
    }

    /// A pod subresource: looks up the pod and its node, then forwards.
    pub async fn pod(
        &self,
        storage: &Storage,
        ns: &str,
        name: &str,
        sub: PodSubresource,
        req: Request<Incoming>,
    ) -> ApiResult<Response> {
        let allowed = match sub {
            PodSubresource::Log => req.method() == Method::GET,
            _ => req.method() == Method::GET || req.method() == Method::POST,
        };
        if !allowed {
            return Err(ApiError::MethodNotAllowed);
        }
        let pods = storage
            .resolve("", "v1", "pods")
            .ok_or_else(|| ApiError::Internal("pods are not registered".into()))?;
        let pod = storage.get(&pods, Some(ns), name).await?;
        let target = pod_target(sub, &pod, req.uri().query())?;
        let endpoint = self.endpoint(storage, &target.node_name).await?;
        Ok(self
            .client
            .forward(&endpoint, &target.path_and_query, req)
            .await)
    }

    /// `nodes/NAME/proxy/PATH`: `PATH` (with the query) on the node's kubelet.
    pub async fn node(
        &self,
        storage: &Storage,
        name: &str,
        path: &str,
        req: Request<Incoming>,
    ) -> ApiResult<Response> {
        let endpoint = self.endpoint(storage, name).await?;
        let path_and_query = match req.uri().query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_string(),
        };
        Ok(self.client.forward(&endpoint, &path_and_query, req).await)
    }

    async fn endpoint(&self, storage: &Storage, node: &str) -> ApiResult<KubeletEndpoint> {
        let nodes = storage
            .resolve("", "v1", "nodes")
            .ok_or_else(|| ApiError::Internal("nodes are not registered".into()))?;
        let node = storage.get(&nodes, None, node).await?;
        kubelet_endpoint(&node)
    }
}
