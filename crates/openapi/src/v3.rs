//! Renders OpenAPI 3.0 group-version documents (`/openapi/v3/apis/G/V`).

use serde_json::{Map, Value, json};

use crate::ResourceDoc;
use crate::model::{Body, Operation, PATCH_MEDIA, Payload, RESPONSE_MEDIA, Route, WATCH_MEDIA};
use crate::operations;
use crate::parameters::{Location, Param};
use crate::schemas::{Flavor, SchemaSet};

const FLAVOR: Flavor = Flavor::V3;

/// The document of one group-version; `resources` all belong to it.
pub(crate) fn group_version_document(
    resources: &[ResourceDoc],
    group: &str,
    version: &str,
) -> Value {
    let mut schemas = SchemaSet::new(FLAVOR);
    let mut paths = Map::new();
    for resource in resources {
        for route in operations::routes(resource, &mut schemas) {
            paths.insert(route.path.clone(), path_item(&route));
        }
    }
    let title = if group.is_empty() {
        format!("Kubernetes api/{version}")
    } else {
        format!("Kubernetes apis/{group}/{version}")
    };
    json!({
        "openapi": "3.0.0",
        "info": { "title": title, "version": "unversioned" },
        "paths": paths,
        "components": {
            "schemas": schemas.finish(),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                },
            },
        },
        "security": [{ "BearerToken": [] }],
    })
}

fn path_item(route: &Route) -> Value {
    let mut item = Map::new();
    for operation in &route.operations {
        item.insert(
            operation.method.key().to_owned(),
            render_operation(operation),
        );
    }
    item.insert(
        "parameters".to_owned(),
        route.params.iter().map(|p| parameter(p)).collect(),
    );
    Value::Object(item)
}

fn parameter(param: &Param) -> Value {
    let mut value = json!({
        "name": param.name,
        "in": match param.location {
            Location::Path => "path",
            Location::Query => "query",
        },
        "description": param.description,
        "schema": { "type": param.ty, "uniqueItems": true },
    });
    if param.location == Location::Path {
        value["required"] = true.into();
    }
    value
}

fn schema_of(payload: &Payload) -> Value {
    match payload {
        Payload::Schema(name) => FLAVOR.reference(name),
        Payload::Text => json!({ "type": "string" }),
    }
}

fn content(media: &[&str], payload: &Payload) -> Value {
    let schema = schema_of(payload);
    media
        .iter()
        .map(|m| ((*m).to_owned(), json!({ "schema": schema.clone() })))
        .collect::<Map<_, _>>()
        .into()
}

fn request_body(body: &Body) -> Value {
    let media: &[&str] = if body.patch { PATCH_MEDIA } else { &["*/*"] };
    json!({ "content": content(media, &body.payload), "required": body.required })
}

pub(crate) fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        401 => "Unauthorized",
        _ => "Response",
    }
}

fn render_operation(operation: &Operation) -> Value {
    let mut responses = Map::new();
    for (code, payload) in &operation.responses {
        let media: Vec<&str> = match payload {
            Payload::Text => vec!["text/plain"],
            Payload::Schema(_) if operation.watchable => {
                RESPONSE_MEDIA.iter().chain(WATCH_MEDIA).copied().collect()
            }
            Payload::Schema(_) => RESPONSE_MEDIA.to_vec(),
        };
        responses.insert(
            code.to_string(),
            json!({ "description": status_text(*code), "content": content(&media, payload) }),
        );
    }
    responses.insert("401".to_owned(), json!({ "description": status_text(401) }));

    let mut op = json!({
        "tags": [operation.tag],
        "description": operation.description,
        "operationId": operation.operation_id,
        "parameters": operation.params.iter().map(|p| parameter(p)).collect::<Vec<_>>(),
        "responses": responses,
        "x-kubernetes-action": operation.action,
    });
    if let Some(body) = &operation.body {
        op["requestBody"] = request_body(body);
    }
    if let Some(gvk) = &operation.gvk {
        op["x-kubernetes-group-version-kind"] = gvk.to_json();
    }
    op
}
