//! Request handling: authentication gate, routing, and dispatch of resource verbs to the
//! generic storage. Responses are built in [`crate::response`].

use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Method, Request};

pub use crate::caller::{Caller, UserInfo};
use crate::decode::{MAX_BODY_BYTES, decode_object, media_type};
use crate::discovery::Discovery;
use crate::error::{ApiError, ApiResult};
use crate::join::NodeJoin;
use crate::kubelet_proxy::{KubeletProxy, PodSubresource};
use crate::query::Query;
use crate::registry::ResourceDef;
use crate::response::{self, Format, Response};
use crate::route::{ResourcePath, Route, route};
use crate::service_account::{self, Tokens};
use crate::storage::{DeleteOptions, Storage};
use crate::{patch, subresource, table};

/// What the API serves for worker nodes: joining, and the proxy to their kubelets.
pub struct NodeAccess {
    pub join: NodeJoin,
    pub kubelets: KubeletProxy,
}

/// The API: storage plus the documents served about it.
pub struct Api {
    pub storage: Arc<Storage>,
    server_address: String,
    nodes: Option<NodeAccess>,
    /// Service account tokens: issued by `serviceaccounts/token`, accepted as bearer tokens.
    tokens: Option<Arc<Tokens>>,
    /// Discovery and OpenAPI, with the custom-resource generation they were built for.
    documents: RwLock<(u64, Arc<Discovery>)>,
}

fn build_discovery(storage: &Storage, server_address: &str) -> (u64, Arc<Discovery>) {
    let generation = storage.custom().generation;
    let defs = storage.all_defs();
    let refs: Vec<&ResourceDef> = defs.iter().map(|d| &**d).collect();
    (
        generation,
        Arc::new(Discovery::new(&refs, server_address.to_string())),
    )
}

impl Api {
    pub fn new(storage: Arc<Storage>, server_address: String) -> Api {
        let documents = RwLock::new(build_discovery(&storage, &server_address));
        Api {
            storage,
            server_address,
            nodes: None,
            tokens: None,
            documents,
        }
    }

    /// Serves node joining and the kubelet proxy too.
    pub fn with_nodes(mut self, nodes: NodeAccess) -> Api {
        self.nodes = Some(nodes);
        self
    }

    /// Issues and accepts service account tokens too.
    pub fn with_tokens(mut self, tokens: Arc<Tokens>) -> Api {
        self.tokens = Some(tokens);
        self
    }

    /// Current discovery documents, rebuilt when the set of custom resources changed.
    pub fn discovery(&self) -> Arc<Discovery> {
        let generation = self.storage.custom().generation;
        {
            let current = self.documents.read().unwrap_or_else(|p| p.into_inner());
            if current.0 == generation {
                return current.1.clone();
            }
        }
        let mut current = self.documents.write().unwrap_or_else(|p| p.into_inner());
        if current.0 != generation {
            *current = build_discovery(&self.storage, &self.server_address);
        }
        current.1.clone()
    }

    pub async fn handle(&self, req: Request<Incoming>, caller: &Caller) -> Response {
        let started = std::time::Instant::now();
        let method = req.method().clone();
        let path = req.uri().path().to_string();
        let (format, protobuf) = Format::negotiate(
            req.headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        );
        let target = route(&path);
        let tokens = self.tokens.as_deref();
        let result =
            match crate::caller::authenticate(&req, caller, &target, tokens, &self.storage).await {
                Ok(caller) => self.dispatch(req, target, &format, &caller).await,
                Err(e) => Err(e),
            };
        let resp = result.unwrap_or_else(|e| response::error(&e));
        let resp = if protobuf {
            crate::protobuf::transcode(resp).await
        } else {
            resp
        };
        tracing::debug!(%method, %path, status = resp.status().as_u16(), elapsed_us = started.elapsed().as_micros() as u64, "request");
        resp
    }

    async fn dispatch(
        &self,
        req: Request<Incoming>,
        target: Route,
        format: &Format,
        caller: &Caller,
    ) -> ApiResult<Response> {
        let discovery = || self.discovery();
        match target {
            Route::Health(_) => Ok(response::text("ok")),
            Route::Version => Ok(response::json(200, &crate::discovery::version())),
            Route::CoreVersions => Ok(discovery().core_versions(format)),
            Route::Groups => Ok(discovery().groups(format)),
            Route::Group(g) => discovery().group(&g).map(|v| response::json(200, &v)),
            Route::GroupVersion { group, version } => discovery()
                .resources(&group, &version)
                .map(|v| response::json(200, &v)),
            Route::OpenApiV2 => Ok(discovery().openapi_v2(
                req.headers()
                    .get(hyper::header::ACCEPT)
                    .and_then(|v| v.to_str().ok()),
            )),
            Route::OpenApiV3Index => Ok(discovery().openapi_v3_index()),
            Route::OpenApiV3 { group, version } => discovery()
                .openapi_v3(&group, &version)
                .ok_or(ApiError::NoRoute),
            Route::Resource(p)
                if p.group == service_account::review::GROUP
                    && p.resource == service_account::review::PLURAL =>
            {
                service_account::review::serve(req, &p, caller).await
            }
            Route::Resource(p) => match (&self.nodes, kubelet_subresource(&p)) {
                (Some(nodes), Some((ns, name, sub))) => {
                    nodes.kubelets.pod(&self.storage, ns, name, sub, req).await
                }
                _ => self.resource(req, p, format).await,
            },
            Route::NodeProxy { node, path } => match &self.nodes {
                Some(nodes) => nodes.kubelets.node(&self.storage, &node, &path, req).await,
                None => Err(ApiError::NoRoute),
            },
            Route::CaCerts => match &self.nodes {
                Some(nodes) => Ok(nodes.join.cacerts(req.method())),
                None => Err(ApiError::NoRoute),
            },
            Route::NodeCredentials => match &self.nodes {
                Some(nodes) => Ok(nodes.join.node_credentials(req).await),
                None => Err(ApiError::NoRoute),
            },
            Route::NotFound => Err(ApiError::NoRoute),
        }
    }

    async fn resource(
        &self,
        req: Request<Incoming>,
        p: ResourcePath,
        format: &Format,
    ) -> ApiResult<Response> {
        let storage = &self.storage;
        let def = storage
            .resolve(&p.group, &p.version, &p.resource)
            .ok_or(ApiError::NoRoute)?;
        let def = &*def;
        if p.namespace.is_some() && !def.namespaced {
            return Err(ApiError::NoRoute);
        }
        if let Some(sub) = &p.subresource {
            if !def.subresources.contains(&sub.as_str()) {
                return Err(ApiError::NoRoute);
            }
        }
        let mut q = Query::parse(req.uri().query())?;
        let ns = p.namespace.as_deref();
        let method = req.method().clone();
        q.user_agent = Some(
            req.headers()
                .get(hyper::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        );
        let protobuf = Format::negotiate(
            req.headers()
                .get(hyper::header::ACCEPT)
                .and_then(|v| v.to_str().ok()),
        )
        .1;
        let content_type = req
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        q.apply = method == Method::PATCH
            && media_type(content_type.as_deref()).ok()
                == Some(crate::decode::MediaType::ApplyPatch);
        let body = read_body(req).await?;
        let sub = p.subresource.as_deref();
        match (&method, p.name.as_deref(), sub) {
            (&Method::GET, None, _) if q.watch || p.watch_prefix => {
                let convert = table::watch_conversion(def, format, q.include_object);
                let rx = storage
                    .watch_converted(def, p.namespace.clone(), q, convert)
                    .await?;
                Ok(if protobuf && crate::protobuf::can_stream(def, format) {
                    crate::protobuf::watch_stream(rx)
                } else {
                    response::watch_stream(rx)
                })
            }
            (&Method::GET, None, _) => self.list(def, ns, &q, format).await,
            (&Method::GET, Some(name), Some("scale")) => {
                subresource::get_scale(storage, def, ns, name)
                    .await
                    .map(|v| response::json(200, &v))
            }
            (&Method::GET, Some(name), Some("status") | None) => {
                let obj = storage.get(def, ns, name).await?;
                Ok(match format {
                    Format::Table { include_object } => response::json(
                        200,
                        &table::table(
                            def,
                            &[obj],
                            q.include_object.unwrap_or(*include_object),
                            None,
                        ),
                    ),
                    Format::PartialObjectMetadata | Format::PartialObjectMetadataList => {
                        response::json(200, &table::partial_metadata(&obj))
                    }
                    _ => response::object(200, &obj, format, &[]),
                })
            }
            (&Method::POST, None, None) => {
                if def.namespaced && ns.is_none() {
                    return Err(ApiError::MethodNotAllowed);
                }
                let mut obj = decode_object(&body, media_type(content_type.as_deref())?)?;
                if let (true, Some(ns)) = (is_core(def, "pods"), ns) {
                    service_account::admission::admit_pod(storage, ns, &mut obj).await?;
                }
                let written = storage.create(def, ns, obj, &q).await?;
                Ok(response::object(
                    201,
                    &written.object,
                    format,
                    &written.warnings,
                ))
            }
            (&Method::POST, Some(name), Some(sub @ ("binding" | "eviction"))) => {
                let obj = decode_object(&body, media_type(content_type.as_deref())?)?;
                subresource::post(storage, def, ns, name, sub, obj, &q)
                    .await
                    .map(|v| response::json(201, &v))
            }
            (&Method::POST, Some(name), Some("token")) => {
                let (Some(tokens), Some(ns)) = (&self.tokens, ns) else {
                    return Err(ApiError::NoRoute);
                };
                let obj = decode_object(&body, media_type(content_type.as_deref())?)?;
                service_account::create_token(tokens, storage, ns, name, obj)
                    .await
                    .map(|v| response::json(201, &v))
            }
            (&Method::PUT, Some(name), Some("scale")) => {
                let obj = decode_object(&body, media_type(content_type.as_deref())?)?;
                subresource::put_scale(storage, def, ns, name, obj, &q)
                    .await
                    .map(|v| response::json(200, &v))
            }
            (&Method::PUT, Some(name), sub @ (None | Some("status" | "finalize"))) => {
                let obj = decode_object(&body, media_type(content_type.as_deref())?)?;
                let written = storage.update(def, ns, name, obj, sub, &q).await?;
                Ok(response::object(
                    if written.created { 201 } else { 200 },
                    &written.object,
                    format,
                    &written.warnings,
                ))
            }
            (&Method::PATCH, Some(name), sub @ (None | Some("status") | Some("scale"))) => {
                let media = media_type(content_type.as_deref())?;
                if sub == Some("scale") {
                    return subresource::patch_scale(storage, def, ns, name, &body, media, &q)
                        .await
                        .map(|v| response::json(200, &v));
                }
                let written = patch::patch(storage, def, ns, name, sub, &body, media, &q).await?;
                Ok(response::object(
                    if written.created { 201 } else { 200 },
                    &written.object,
                    format,
                    &written.warnings,
                ))
            }
            (&Method::DELETE, Some(name), None) => {
                let opts = DeleteOptions::from_request(&body, &q)?;
                let obj = storage.delete(def, ns, name, &opts, &q).await?;
                Ok(response::object(200, &obj, format, &[]))
            }
            (&Method::DELETE, None, None) => {
                let opts = DeleteOptions::from_request(&body, &q)?;
                let items = storage.delete_collection(def, ns, &opts, &q).await?;
                let list = serde_json::json!({"kind": format!("{}List", def.kind), "apiVersion": def.api_version(), "metadata": {}, "items": items});
                Ok(response::json(200, &list))
            }
            _ => Err(ApiError::MethodNotAllowed),
        }
    }

    async fn list(
        &self,
        def: &ResourceDef,
        ns: Option<&str>,
        q: &Query,
        format: &Format,
    ) -> ApiResult<Response> {
        let page = self.storage.list(def, ns, q).await?;
        match format {
            Format::Table { include_object } => {
                let list: serde_json::Value = serde_json::from_slice(&page.body)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let items = list["items"].as_array().cloned().unwrap_or_default();
                Ok(response::json(
                    200,
                    &table::table(
                        def,
                        &items,
                        q.include_object.unwrap_or(*include_object),
                        Some(&list["metadata"]),
                    ),
                ))
            }
            Format::PartialObjectMetadata | Format::PartialObjectMetadataList => {
                let list: serde_json::Value = serde_json::from_slice(&page.body)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                let items = list["items"]
                    .as_array()
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                Ok(response::json(
                    200,
                    &table::partial_metadata_list(items, &list["metadata"]),
                ))
            }
            Format::Protobuf => {
                let list: serde_json::Value = serde_json::from_slice(&page.body)
                    .map_err(|e| ApiError::Internal(e.to_string()))?;
                Ok(response::object(200, &list, format, &[]))
            }
            _ => Ok(response::raw_json(Bytes::from(page.body))),
        }
    }
}

/// Whether `def` is the core/v1 resource `plural`.
fn is_core(def: &ResourceDef, plural: &str) -> bool {
    def.group.is_empty() && def.version == "v1" && def.plural == plural && def.custom.is_none()
}

/// The namespace, pod and subresource of a pod subresource served by the kubelet.
fn kubelet_subresource(p: &ResourcePath) -> Option<(&str, &str, PodSubresource)> {
    if !p.group.is_empty() || p.version != "v1" || p.resource != "pods" {
        return None;
    }
    let sub = PodSubresource::parse(p.subresource.as_deref()?)?;
    Some((p.namespace.as_deref()?, p.name.as_deref()?, sub))
}

/// Reads a request body, refusing more than [`MAX_BODY_BYTES`].
pub(crate) async fn read_body(req: Request<Incoming>) -> ApiResult<Bytes> {
    if let Some(len) = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
    {
        if len > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge(len));
        }
    }
    let limited = http_body_util::Limited::new(req.into_body(), MAX_BODY_BYTES);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            Err(ApiError::TooLarge(MAX_BODY_BYTES + 1))
        }
        Err(e) => Err(ApiError::BadRequest(format!(
            "reading the request body: {e}"
        ))),
    }
}
