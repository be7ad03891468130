//! The API objects the test creates: Services with hand-made EndpointSlices pointing at the
//! apps, TLS Secrets signed by a test CA, and Ingresses.

use std::net::SocketAddr;

use anyhow::Result;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{Secret, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{Patch, PatchParams, PostParams};
use kube::{Api, Client};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::CertificateDer;
use serde_json::{Value, json};

pub const NS: &str = "default";

/// Creates Service `name` (port 80 named `http`) and, unless `app` is `None`, an
/// EndpointSlice with one ready endpoint at the app's address.
pub async fn service(client: &Client, name: &str, app: Option<SocketAddr>) -> Result<()> {
    let target = app.map_or(8080, |a| a.port());
    let service: Service = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NS},
        "spec": {"ports": [{"name": "http", "port": 80, "targetPort": target}]}
    }))?;
    Api::<Service>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &service)
        .await?;
    if let Some(app) = app {
        let slice: EndpointSlice = serde_json::from_value(json!({
            "metadata": {"name": format!("{name}-1"), "namespace": NS,
                         "labels": {"kubernetes.io/service-name": name}},
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": app.port(), "protocol": "TCP"}],
            "endpoints": [{"addresses": [app.ip().to_string()], "conditions": {"ready": true}}]
        }))?;
        Api::<EndpointSlice>::namespaced(client.clone(), NS)
            .create(&PostParams::default(), &slice)
            .await?;
    }
    Ok(())
}

/// A service backend by port number (80) or by port name (`http`).
pub fn backend(service: &str, by_name: bool) -> Value {
    let port = if by_name {
        json!({"name": "http"})
    } else {
        json!({"number": 80})
    };
    json!({"service": {"name": service, "port": port}})
}

pub fn path(path: &str, kind: &str, service: &str) -> Value {
    json!({"path": path, "pathType": kind, "backend": backend(service, false)})
}

/// Creates an Ingress from its `metadata` extras and `spec`.
pub async fn ingress(client: &Client, name: &str, metadata: Value, spec: Value) -> Result<()> {
    let mut meta = json!({"name": name, "namespace": NS});
    if let (Some(meta), Some(extra)) = (meta.as_object_mut(), metadata.as_object()) {
        meta.extend(extra.clone());
    }
    let ingress: Ingress = serde_json::from_value(json!({"metadata": meta, "spec": spec}))?;
    Api::<Ingress>::namespaced(client.clone(), NS)
        .create(&PostParams::default(), &ingress)
        .await?;
    Ok(())
}

/// A test CA that signs leaf certificates.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    pub fn new() -> Result<Ca> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        Ok(Ca {
            issuer: CertifiedIssuer::self_signed(params, KeyPair::generate()?)?,
        })
    }

    pub fn cert(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// A leaf for `hosts`: (PEM chain, PEM key, leaf DER).
    pub fn leaf(&self, hosts: &[&str]) -> Result<(String, String, CertificateDer<'static>)> {
        let key = KeyPair::generate()?;
        let params =
            CertificateParams::new(hosts.iter().map(|h| h.to_string()).collect::<Vec<_>>())?;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem(), cert.der().clone()))
    }
}

/// Creates or replaces the `kubernetes.io/tls` Secret `name`.
pub async fn tls_secret(client: &Client, name: &str, crt: &str, key: &str) -> Result<()> {
    let mut secret = Secret {
        type_: Some("kubernetes.io/tls".into()),
        data: Some(
            [
                ("tls.crt".to_string(), ByteString(crt.as_bytes().to_vec())),
                ("tls.key".to_string(), ByteString(key.as_bytes().to_vec())),
            ]
            .into(),
        ),
        ..Secret::default()
    };
    secret.metadata.name = Some(name.into());
    secret.metadata.namespace = Some(NS.into());
    Api::<Secret>::namespaced(client.clone(), NS)
        .patch(
            name,
            &PatchParams::apply("ingress-test").force(),
            &Patch::Apply(&secret),
        )
        .await?;
    Ok(())
}
