//! The paths and operations of one resource, in the shapes the Kubernetes
//! API server publishes (operation ids, actions, parameters, payloads).

use k8s_openapi::api::authentication::v1::TokenRequest;
use k8s_openapi::api::autoscaling::v1::Scale;
use k8s_openapi::api::core::v1::Binding;
use k8s_openapi::api::policy::v1::Eviction;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{DeleteOptions, Patch, Status};

use crate::model::{Body, Gvk, Method, Operation, Payload, Route};
use crate::parameters::{self, Param};
use crate::schemas::SchemaSet;
use crate::{ResourceDoc, SchemaSource};

/// `"/api/v1"` or `"/apis/GROUP/VERSION"`.
pub(crate) fn api_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// The group as operation ids spell it: `""` → `Core`,
/// `rbac.authorization.k8s.io` → `RbacAuthorization`.
fn group_camel(group: &str) -> String {
    if group.is_empty() {
        return "Core".to_owned();
    }
    let trimmed = group.strip_suffix(".k8s.io").unwrap_or(group);
    trimmed.split(['.', '-']).map(capitalize).collect()
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The tag operations are grouped under, e.g. `core_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    let camel = group_camel(group);
    let mut chars = camel.chars();
    let lowered: String = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    };
    format!("{lowered}_{version}")
}

/// What a subresource carries and which operations it has.
struct SubresourceShape {
    methods: &'static [Method],
    payload: Payload,
    gvk: Option<Gvk>,
}

/// Everything the operations of one resource refer to by name.
struct Names {
    kind: String,
    list: String,
    delete_options: String,
    status: String,
    patch: String,
}

/// Builds the routes of `resource`, adding the schemas they refer to.
pub(crate) fn routes(resource: &ResourceDoc, schemas: &mut SchemaSet) -> Vec<Route> {
    let gvk = Gvk::new(resource.group, resource.version, resource.kind);
    let fallback = format!(
        "{}.{}.{}",
        if resource.group.is_empty() {
            "core"
        } else {
            resource.group
        },
        resource.version,
        resource.kind
    );
    let kind = match &resource.schema {
        SchemaSource::Typed(schema) => schemas.add_with(*schema, &fallback),
        SchemaSource::Json(schema) => schemas.add_custom(schema, &fallback),
    };
    let list = schemas.add_list(&kind, resource.kind, resource.plural);
    schemas.tag(&kind, gvk.clone());
    schemas.tag(
        &list,
        Gvk::new(
            resource.group,
            resource.version,
            &format!("{}List", resource.kind),
        ),
    );
    let names = Names {
        kind,
        list,
        delete_options: schemas.add::<DeleteOptions>(),
        status: schemas.add::<Status>(),
        patch: schemas.add::<Patch>(),
    };

    let builder = RouteBuilder {
        resource,
        gvk,
        names,
        gv: format!(
            "{}{}",
            group_camel(resource.group),
            capitalize(resource.version)
        ),
        tag: tag(resource.group, resource.version),
    };
    let prefix = api_prefix(resource.group, resource.version);
    let mut routes = Vec::new();
    if resource.namespaced {
        let collection = format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural);
        routes.push(builder.collection(&collection, true));
        routes.push(builder.item(&format!("{collection}/{{name}}"), true));
        routes.push(builder.all_namespaces(&format!("{prefix}/{}", resource.plural)));
        for sub in resource.subresources {
            let shape = subresource_shape(sub, &builder.gvk, &builder.names, schemas);
            routes.push(builder.subresource(&collection, sub, &shape, true));
        }
    } else {
        let collection = format!("{prefix}/{}", resource.plural);
        routes.push(builder.collection(&collection, false));
        routes.push(builder.item(&format!("{collection}/{{name}}"), false));
        for sub in resource.subresources {
            let shape = subresource_shape(sub, &builder.gvk, &builder.names, schemas);
            routes.push(builder.subresource(&collection, sub, &shape, false));
        }
    }
    routes
}

fn subresource_shape(
    sub: &str,
    gvk: &Gvk,
    names: &Names,
    schemas: &mut SchemaSet,
) -> SubresourceShape {
    use Method::{Get, Patch as PatchMethod, Post, Put};
    let (methods, name, gvk): (&'static [Method], String, Gvk) = match sub {
        "status" => (&[Get, Put, PatchMethod], names.kind.clone(), gvk.clone()),
        "scale" => (
            &[Get, Put, PatchMethod],
            schemas.add::<Scale>(),
            Gvk::new("autoscaling", "v1", "Scale"),
        ),
        "binding" => (
            &[Post],
            schemas.add::<Binding>(),
            Gvk::new("", "v1", "Binding"),
        ),
        "eviction" => (
            &[Post],
            schemas.add::<Eviction>(),
            Gvk::new("policy", "v1", "Eviction"),
        ),
        "token" => (
            &[Post],
            schemas.add::<TokenRequest>(),
            Gvk::new("authentication.k8s.io", "v1", "TokenRequest"),
        ),
        _ => {
            return SubresourceShape {
                methods: &[Get],
                payload: Payload::Text,
                gvk: None,
            };
        }
    };
    schemas.tag(&name, gvk.clone());
    SubresourceShape {
        methods,
        payload: Payload::Schema(name),
        gvk: Some(gvk),
    }
}

struct RouteBuilder<'a> {
    resource: &'a ResourceDoc,
    gvk: Gvk,
    names: Names,
    /// Group and version as operation ids spell them, e.g. `AppsV1`.
    gv: String,
    tag: String,
}

impl RouteBuilder<'_> {
    fn operation(
        &self,
        method: Method,
        verb: &str,
        scope: &str,
        suffix: &str,
        action: &'static str,
        description: String,
    ) -> Operation {
        Operation {
            method,
            operation_id: format!("{verb}{}{scope}{}{suffix}", self.gv, self.resource.kind),
            description,
            tag: self.tag.clone(),
            action,
            gvk: Some(self.gvk.clone()),
            params: Vec::new(),
            body: None,
            responses: Vec::new(),
            watchable: false,
        }
    }

    fn kind_payload(&self) -> Payload {
        Payload::Schema(self.names.kind.clone())
    }

    fn body(payload: Payload, patch: bool, required: bool) -> Option<Body> {
        Some(Body {
            payload,
            patch,
            required,
        })
    }

    fn list_operation(&self, scope: &str, suffix: &str) -> Operation {
        let kind = self.resource.kind;
        let mut list = self.operation(
            Method::Get,
            "list",
            scope,
            suffix,
            "list",
            format!("list or watch objects of kind {kind}"),
        );
        list.params = parameters::LIST.to_vec();
        list.responses = vec![(200, Payload::Schema(self.names.list.clone()))];
        list.watchable = true;
        list
    }

    fn collection(&self, path: &str, namespaced: bool) -> Route {
        let scope = if namespaced { "Namespaced" } else { "" };
        let kind = self.resource.kind;
        let list = self.list_operation(scope, "");

        let mut create = self.operation(
            Method::Post,
            "create",
            scope,
            "",
            "post",
            format!("create a {kind}"),
        );
        create.params = parameters::WRITE.to_vec();
        create.body = Self::body(self.kind_payload(), false, true);
        create.responses = [200, 201, 202]
            .map(|code| (code, self.kind_payload()))
            .to_vec();

        let mut delete = self.operation(
            Method::Delete,
            "delete",
            &format!("Collection{scope}"),
            "",
            "deletecollection",
            format!("delete collection of {kind}"),
        );
        delete.params = parameters::DELETE_COLLECTION.to_vec();
        delete.body = Self::body(
            Payload::Schema(self.names.delete_options.clone()),
            false,
            false,
        );
        delete.responses = vec![(200, Payload::Schema(self.names.status.clone()))];

        Route {
            path: path.to_owned(),
            params: path_params(namespaced, false),
            operations: vec![list, create, delete],
        }
    }

    fn item(&self, path: &str, namespaced: bool) -> Route {
        let scope = if namespaced { "Namespaced" } else { "" };
        let kind = self.resource.kind;
        let mut read = self.operation(
            Method::Get,
            "read",
            scope,
            "",
            "get",
            format!("read the specified {kind}"),
        );
        read.responses = vec![(200, self.kind_payload())];

        let mut replace = self.operation(
            Method::Put,
            "replace",
            scope,
            "",
            "put",
            format!("replace the specified {kind}"),
        );
        replace.params = parameters::WRITE.to_vec();
        replace.body = Self::body(self.kind_payload(), false, true);
        replace.responses = [200, 201].map(|code| (code, self.kind_payload())).to_vec();

        let mut patch = self.operation(
            Method::Patch,
            "patch",
            scope,
            "",
            "patch",
            format!("partially update the specified {kind}"),
        );
        patch.params = parameters::PATCH.to_vec();
        patch.body = Self::body(Payload::Schema(self.names.patch.clone()), true, true);
        patch.responses = [200, 201].map(|code| (code, self.kind_payload())).to_vec();

        let mut delete = self.operation(
            Method::Delete,
            "delete",
            scope,
            "",
            "delete",
            format!("delete a {kind}"),
        );
        delete.params = parameters::DELETE.to_vec();
        delete.body = Self::body(
            Payload::Schema(self.names.delete_options.clone()),
            false,
            false,
        );
        delete.responses = [200, 202]
            .map(|code| (code, Payload::Schema(self.names.status.clone())))
            .to_vec();

        Route {
            path: path.to_owned(),
            params: path_params(namespaced, true),
            operations: vec![read, replace, patch, delete],
        }
    }

    fn all_namespaces(&self, path: &str) -> Route {
        Route {
            path: path.to_owned(),
            params: vec![&parameters::PRETTY],
            operations: vec![self.list_operation("", "ForAllNamespaces")],
        }
    }

    fn subresource(
        &self,
        collection: &str,
        sub: &str,
        shape: &SubresourceShape,
        namespaced: bool,
    ) -> Route {
        let scope = if namespaced { "Namespaced" } else { "" };
        let suffix = capitalize(sub);
        let kind = self.resource.kind;
        let mut operations = Vec::new();
        for &method in shape.methods {
            let (verb, action, description, params, codes): (_, _, _, &[&Param], &[u16]) =
                match method {
                    Method::Get => (
                        "read",
                        "get",
                        format!("read {sub} of the specified {kind}"),
                        &[],
                        &[200],
                    ),
                    Method::Put => (
                        "replace",
                        "put",
                        format!("replace {sub} of the specified {kind}"),
                        parameters::WRITE,
                        &[200, 201],
                    ),
                    Method::Patch => (
                        "patch",
                        "patch",
                        format!("partially update {sub} of the specified {kind}"),
                        parameters::PATCH,
                        &[200, 201],
                    ),
                    Method::Post => (
                        "create",
                        "post",
                        format!("create {sub} of a {kind}"),
                        parameters::WRITE,
                        &[200, 201, 202],
                    ),
                    Method::Delete => (
                        "delete",
                        "delete",
                        format!("delete {sub} of a {kind}"),
                        &[],
                        &[200],
                    ),
                };
            let mut op = self.operation(method, verb, scope, &suffix, action, description);
            op.gvk = shape.gvk.clone();
            op.params = if sub == "log" {
                parameters::LOG.to_vec()
            } else {
                params.to_vec()
            };
            op.body = match method {
                Method::Put | Method::Post => Self::body(shape.payload.clone(), false, true),
                Method::Patch => Self::body(Payload::Schema(self.names.patch.clone()), true, true),
                Method::Get | Method::Delete => None,
            };
            op.responses = codes
                .iter()
                .map(|&code| (code, shape.payload.clone()))
                .collect();
            operations.push(op);
        }
        Route {
            path: format!("{collection}/{{name}}/{sub}"),
            params: path_params(namespaced, true),
            operations,
        }
    }
}

fn path_params(namespaced: bool, named: bool) -> Vec<&'static Param> {
    let mut params: Vec<&'static Param> = Vec::new();
    if named {
        params.push(&parameters::NAME);
    }
    if namespaced {
        params.push(&parameters::NAMESPACE);
    }
    params.push(&parameters::PRETTY);
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_names_follow_kubernetes_operation_ids() {
        assert_eq!(group_camel(""), "Core");
        assert_eq!(group_camel("apps"), "Apps");
        assert_eq!(
            group_camel("rbac.authorization.k8s.io"),
            "RbacAuthorization"
        );
        assert_eq!(group_camel("networking.k8s.io"), "Networking");
        assert_eq!(
            tag("rbac.authorization.k8s.io", "v1"),
            "rbacAuthorization_v1"
        );
        assert_eq!(tag("", "v1"), "core_v1");
    }
}
