//! Renders the Swagger 2.0 document (`/openapi/v2`) covering every resource.

use serde_json::{Map, Value, json};

use crate::ResourceDoc;
use crate::model::{Operation, PATCH_MEDIA, Payload, RESPONSE_MEDIA, Route, WATCH_MEDIA};
use crate::operations;
use crate::parameters::{Location, Param};
use crate::schemas::{Flavor, SchemaSet};
use crate::v3::status_text;

const FLAVOR: Flavor = Flavor::V2;

/// The whole-API swagger document.
pub(crate) fn document(resources: &[ResourceDoc]) -> Value {
    let mut schemas = SchemaSet::new(FLAVOR);
    let mut paths = Map::new();
    for resource in resources {
        for route in operations::routes(resource, &mut schemas) {
            paths.insert(route.path.clone(), path_item(&route));
        }
    }
    json!({
        "swagger": "2.0",
        "info": { "title": "Kubernetes", "version": "unversioned" },
        "paths": paths,
        "definitions": schemas.finish(),
        "securityDefinitions": {
            "BearerToken": {
                "type": "apiKey",
                "description": "Bearer Token authentication",
                "name": "authorization",
                "in": "header",
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
        "uniqueItems": true,
        "type": param.ty,
        "description": param.description,
        "name": param.name,
        "in": match param.location {
            Location::Path => "path",
            Location::Query => "query",
        },
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

fn render_operation(operation: &Operation) -> Value {
    let mut parameters: Vec<Value> = Vec::new();
    let mut consumes: Vec<&str> = vec!["*/*"];
    if let Some(body) = &operation.body {
        parameters.push(json!({
            "name": "body",
            "in": "body",
            "required": body.required,
            "schema": schema_of(&body.payload),
        }));
        if body.patch {
            consumes = PATCH_MEDIA.to_vec();
        }
    }
    parameters.extend(operation.params.iter().map(|p| parameter(p)));

    let text = operation.responses.iter().any(|(_, p)| *p == Payload::Text);
    let produces: Vec<&str> = if text {
        vec!["text/plain", "application/json"]
    } else if operation.watchable {
        RESPONSE_MEDIA.iter().chain(WATCH_MEDIA).copied().collect()
    } else {
        RESPONSE_MEDIA.to_vec()
    };

    let mut responses = Map::new();
    for (code, payload) in &operation.responses {
        responses.insert(
            code.to_string(),
            json!({ "description": status_text(*code), "schema": schema_of(payload) }),
        );
    }
    responses.insert("401".to_owned(), json!({ "description": status_text(401) }));

    let mut op = json!({
        "description": operation.description,
        "consumes": consumes,
        "produces": produces,
        "schemes": ["https"],
        "tags": [operation.tag],
        "operationId": operation.operation_id,
        "parameters": parameters,
        "responses": responses,
        "x-kubernetes-action": operation.action,
    });
    if let Some(gvk) = &operation.gvk {
        op["x-kubernetes-group-version-kind"] = gvk.to_json();
    }
    op
}
