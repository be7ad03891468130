//! Encodes the swagger 2.0 document as gnostic's `openapi.v2.Document`
//! protobuf, the only form kubectl accepts from `/openapi/v2`.
//!
//! kubectl requests `/openapi/v2` with
//! `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` and
//! decodes the body with `proto.Unmarshal`; `kubectl explain`, `create` and
//! `apply` (strict validation) fail when that does not parse. The encoding
//! is driven by the JSON document so both forms always agree. Vendor
//! extensions and `Any` values carry their JSON text in the `yaml` field
//! (JSON is YAML), which is how gnostic reads them.

use serde_json::Value;

/// A protobuf message being written.
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint((u64::from(field) << 3) | u64::from(wire_type));
    }

    fn bytes(&mut self, field: u32, bytes: &[u8]) {
        self.key(field, 2);
        self.varint(bytes.len() as u64);
        self.0.extend_from_slice(bytes);
    }

    fn string(&mut self, field: u32, text: &str) {
        if !text.is_empty() {
            self.bytes(field, text.as_bytes());
        }
    }

    fn string_at(&mut self, field: u32, value: &Value, key: &str) {
        if let Some(text) = value.get(key).and_then(Value::as_str) {
            self.string(field, text);
        }
    }

    fn strings_at(&mut self, field: u32, value: &Value, key: &str) {
        for text in value
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(text) = text.as_str() {
                self.bytes(field, text.as_bytes());
            }
        }
    }

    fn bool_at(&mut self, field: u32, value: &Value, key: &str) {
        if value.get(key).and_then(Value::as_bool) == Some(true) {
            self.key(field, 0);
            self.varint(1);
        }
    }

    fn int64_at(&mut self, field: u32, value: &Value, key: &str) {
        if let Some(number) = value.get(key).and_then(Value::as_i64) {
            self.key(field, 0);
            self.varint(number as u64);
        }
    }

    fn double_at(&mut self, field: u32, value: &Value, key: &str) {
        if let Some(number) = value.get(key).and_then(Value::as_f64) {
            self.key(field, 1);
            self.0.extend_from_slice(&number.to_le_bytes());
        }
    }

    fn message(&mut self, field: u32, message: Message) {
        self.bytes(field, &message.0);
    }
}

/// `Any { yaml = 2 }` holding the value's JSON text.
fn any(value: &Value) -> Message {
    let mut message = Message::default();
    message.string(2, &value.to_string());
    message
}

/// `NamedAny` entries for every `x-` key of `value`.
fn vendor_extensions(message: &mut Message, field: u32, value: &Value) {
    let Some(map) = value.as_object() else { return };
    for (key, extension) in map.iter().filter(|(key, _)| key.starts_with("x-")) {
        let mut named = Message::default();
        named.string(1, key);
        named.message(2, any(extension));
        message.message(field, named);
    }
}

fn named(name: &str, value: Message) -> Message {
    let mut message = Message::default();
    message.string(1, name);
    message.message(2, value);
    message
}

fn schema(value: &Value) -> Message {
    let mut m = Message::default();
    m.string_at(1, value, "$ref");
    m.string_at(2, value, "format");
    m.string_at(3, value, "title");
    m.string_at(4, value, "description");
    if let Some(default) = value.get("default") {
        m.message(5, any(default));
    }
    m.double_at(6, value, "multipleOf");
    m.double_at(7, value, "maximum");
    m.bool_at(8, value, "exclusiveMaximum");
    m.double_at(9, value, "minimum");
    m.bool_at(10, value, "exclusiveMinimum");
    m.int64_at(11, value, "maxLength");
    m.int64_at(12, value, "minLength");
    m.string_at(13, value, "pattern");
    m.int64_at(14, value, "maxItems");
    m.int64_at(15, value, "minItems");
    m.bool_at(16, value, "uniqueItems");
    m.int64_at(17, value, "maxProperties");
    m.int64_at(18, value, "minProperties");
    m.strings_at(19, value, "required");
    for item in value
        .get("enum")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(20, any(item));
    }
    match value.get("additionalProperties") {
        Some(Value::Bool(allowed)) => {
            let mut item = Message::default();
            item.key(2, 0);
            item.varint(u64::from(*allowed));
            m.message(21, item);
        }
        Some(nested @ Value::Object(_)) => {
            let mut item = Message::default();
            item.message(1, schema(nested));
            m.message(21, item);
        }
        _ => {}
    }
    match value.get("type") {
        Some(Value::String(ty)) => {
            let mut item = Message::default();
            item.string(1, ty);
            m.message(22, item);
        }
        Some(types @ Value::Array(_)) => {
            let mut item = Message::default();
            item.strings_at(1, &serde_json::json!({ "v": types }), "v");
            m.message(22, item);
        }
        _ => {}
    }
    if let Some(items) = value.get("items") {
        let mut item = Message::default();
        match items {
            Value::Array(list) => list.iter().for_each(|s| item.message(1, schema(s))),
            single => item.message(1, schema(single)),
        }
        m.message(23, item);
    }
    for nested in value
        .get("allOf")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(24, schema(nested));
    }
    if let Some(properties) = value.get("properties").and_then(Value::as_object) {
        let mut list = Message::default();
        for (name, nested) in properties {
            list.message(1, named(name, schema(nested)));
        }
        m.message(25, list);
    }
    m.bool_at(27, value, "readOnly");
    if let Some(example) = value.get("example") {
        m.message(30, any(example));
    }
    vendor_extensions(&mut m, 31, value);
    m
}

/// `ParametersItem { parameter = 1 }`.
fn parameter(value: &Value) -> Message {
    let location = value.get("in").and_then(Value::as_str).unwrap_or_default();
    let mut parameter = Message::default();
    if location == "body" {
        let mut body = Message::default();
        body.string_at(1, value, "description");
        body.string_at(2, value, "name");
        body.string_at(3, value, "in");
        body.bool_at(4, value, "required");
        if let Some(nested) = value.get("schema") {
            body.message(5, schema(nested));
        }
        parameter.message(1, body);
    } else {
        // Query and path sub-schemas share their first fields; `type` and
        // `uniqueItems` sit one field later in the query form.
        let query = location == "query";
        let mut sub = Message::default();
        sub.bool_at(1, value, "required");
        sub.string_at(2, value, "in");
        sub.string_at(3, value, "description");
        sub.string_at(4, value, "name");
        sub.string_at(if query { 6 } else { 5 }, value, "type");
        sub.bool_at(if query { 20 } else { 19 }, value, "uniqueItems");
        vendor_extensions(&mut sub, if query { 23 } else { 22 }, value);
        let mut non_body = Message::default();
        non_body.message(if query { 3 } else { 4 }, sub);
        parameter.message(2, non_body);
    }
    let mut item = Message::default();
    item.message(1, parameter);
    item
}

fn operation(value: &Value) -> Message {
    let mut m = Message::default();
    m.strings_at(1, value, "tags");
    m.string_at(2, value, "summary");
    m.string_at(3, value, "description");
    m.string_at(5, value, "operationId");
    m.strings_at(6, value, "produces");
    m.strings_at(7, value, "consumes");
    for param in value
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(8, parameter(param));
    }
    if let Some(responses) = value.get("responses").and_then(Value::as_object) {
        let mut list = Message::default();
        for (code, response) in responses {
            let mut body = Message::default();
            body.string_at(1, response, "description");
            if let Some(nested) = response.get("schema") {
                let mut item = Message::default();
                item.message(1, schema(nested));
                body.message(2, item);
            }
            let mut response_value = Message::default();
            response_value.message(1, body);
            list.message(1, named(code, response_value));
        }
        m.message(9, list);
    }
    m.strings_at(10, value, "schemes");
    vendor_extensions(&mut m, 13, value);
    m
}

fn path_item(value: &Value) -> Message {
    let mut m = Message::default();
    for (field, method) in [
        (2, "get"),
        (3, "put"),
        (4, "post"),
        (5, "delete"),
        (8, "patch"),
    ] {
        if let Some(op) = value.get(method) {
            m.message(field, operation(op));
        }
    }
    for param in value
        .get("parameters")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(9, parameter(param));
    }
    m
}

fn security_definitions(value: &Value) -> Message {
    let mut list = Message::default();
    for (name, definition) in value.as_object().into_iter().flatten() {
        let mut api_key = Message::default();
        api_key.string_at(1, definition, "type");
        api_key.string_at(2, definition, "name");
        api_key.string_at(3, definition, "in");
        api_key.string_at(4, definition, "description");
        let mut item = Message::default();
        item.message(2, api_key);
        list.message(1, named(name, item));
    }
    list
}

fn security_requirement(value: &Value) -> Message {
    let mut requirement = Message::default();
    for (name, scopes) in value.as_object().into_iter().flatten() {
        let mut array = Message::default();
        array.strings_at(1, &serde_json::json!({ "v": scopes }), "v");
        requirement.message(1, named(name, array));
    }
    requirement
}

/// The protobuf encoding of a swagger 2.0 JSON document.
pub(crate) fn encode(document: &Value) -> Vec<u8> {
    let mut m = Message::default();
    m.string_at(1, document, "swagger");
    if let Some(info) = document.get("info") {
        let mut message = Message::default();
        message.string_at(1, info, "title");
        message.string_at(2, info, "version");
        m.message(2, message);
    }
    if let Some(paths) = document.get("paths").and_then(Value::as_object) {
        let mut list = Message::default();
        for (path, item) in paths {
            list.message(2, named(path, path_item(item)));
        }
        m.message(8, list);
    }
    if let Some(definitions) = document.get("definitions").and_then(Value::as_object) {
        let mut list = Message::default();
        for (name, definition) in definitions {
            list.message(1, named(name, schema(definition)));
        }
        m.message(9, list);
    }
    for requirement in document
        .get("security")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        m.message(12, security_requirement(requirement));
    }
    if let Some(definitions) = document.get("securityDefinitions") {
        m.message(13, security_definitions(definitions));
    }
    m.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn varints_and_strings_follow_the_wire_format() {
        let mut m = Message::default();
        m.varint(300);
        assert_eq!(m.0, [0xAC, 0x02]);
        let bytes = encode(&json!({ "swagger": "2.0" }));
        assert_eq!(bytes, [0x0A, 3, b'2', b'.', b'0']);
    }

    #[test]
    fn schemas_nest_properties_as_named_entries() {
        let encoded =
            schema(&json!({ "type": "object", "properties": { "a": { "type": "string" } } })).0;
        // type = 22 (TypeItem{value: "object"}), properties = 25.
        assert_eq!(&encoded[..3], &[0xB2, 0x01, 8]);
        assert!(encoded.windows(2).any(|w| w == [0xCA, 0x01]));
    }
}
