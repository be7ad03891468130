//! Generator of `src/generated.rs`, the field table that drives the wire-level codec.
//!
//! It reads the prost-generated sources of the `k8s-pb` dependency (struct names, field names,
//! `#[prost(..., tag = "N")]` attributes and field types) and the serde/schemars sources of the
//! `k8s-openapi` dependency (JSON field names, required fields, schema names, apiVersion/kind),
//! and prints a Rust table of our own format. Nothing of either crate is copied besides names and
//! numbers. Regenerate with:
//!
//! ```text
//! cargo run -p gantry-protobuf --example generate_table > crates/protobuf/src/generated.rs
//! cargo fmt -p gantry-protobuf
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Kubernetes minor version whose k8s-openapi module provides JSON names.
const OPENAPI_VERSION_MODULE: &str = "v1_33";

/// Protobuf messages whose JSON form is not an object, by lowercased full name.
const SPECIAL: &[(&str, &str)] = &[
    ("io.k8s.apimachinery.pkg.apis.meta.v1.time", "Time"),
    (
        "io.k8s.apimachinery.pkg.apis.meta.v1.microtime",
        "MicroTime",
    ),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.duration", "Duration"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.fieldsv1", "RawJson"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.verbs", "Strings"),
    ("io.k8s.apimachinery.pkg.runtime.rawextension", "RawJson"),
    ("io.k8s.apimachinery.pkg.api.resource.quantity", "Quantity"),
    (
        "io.k8s.apimachinery.pkg.api.resource.quantityvalue",
        "Quantity",
    ),
    (
        "io.k8s.apimachinery.pkg.util.intstr.intorstring",
        "IntOrString",
    ),
    (
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.json",
        "RawJson",
    ),
];

/// One field as prost declares it.
struct ProtoField {
    name: String,
    tag: u32,
    scalar: String,
    repeated: bool,
    map: bool,
    message: Option<String>,
}

/// Prost messages by lowercased full name: the prost spelling of the name and the fields.
type Messages = BTreeMap<String, (String, Vec<ProtoField>)>;

/// What k8s-openapi knows about one schema: JSON field names and which are required.
#[derive(Default)]
struct JsonShape {
    fields: Vec<(String, bool)>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pb = package_dir("k8s-pb")?.join("src");
    let openapi = package_dir("k8s-openapi")?
        .join("src")
        .join(OPENAPI_VERSION_MODULE);

    let mut messages = Messages::new();
    for file in rust_files(&pb) {
        let rel = file.parent().unwrap_or(&pb).strip_prefix(&pb)?;
        let module: Vec<String> = rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy().replace('_', "-"))
            .collect();
        if module.is_empty() {
            continue;
        }
        parse_prost(&fs::read_to_string(&file)?, &module, &mut messages);
    }

    let mut shapes: BTreeMap<String, (String, JsonShape)> = BTreeMap::new();
    let mut kinds: BTreeSet<(String, String, String)> = BTreeSet::new();
    for file in rust_files(&openapi) {
        parse_openapi(&fs::read_to_string(&file)?, &mut shapes, &mut kinds);
    }

    // Canonical names: the OpenAPI spelling where one exists, else the prost one.
    let canonical: BTreeMap<String, String> = messages
        .iter()
        .map(|(lower, (display, _))| {
            let name = shapes
                .get(lower)
                .map(|(n, _)| n.clone())
                .unwrap_or_else(|| display.clone());
            (lower.clone(), name)
        })
        .collect();
    let mut order: Vec<&String> = canonical.values().collect();
    order.sort();
    let index: BTreeMap<&str, usize> = order
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    let by_canonical: BTreeMap<&str, &str> = canonical
        .iter()
        .map(|(l, c)| (c.as_str(), l.as_str()))
        .collect();

    let mut out = String::new();
    out.push_str(HEADER);
    out.push_str("pub(crate) static MESSAGES: &[Message] = &[\n");
    for (i, name) in order.iter().enumerate() {
        let lower = by_canonical[name.as_str()];
        let special = SPECIAL
            .iter()
            .find(|(n, _)| *n == lower)
            .map_or("Plain", |(_, s)| s);
        let shape = shapes.get(lower).map(|(_, s)| s);
        writeln!(out, "    // {i}\n    m(\"{name}\", {special}, &[")?;
        let mut fields: Vec<&ProtoField> = messages[lower].1.iter().collect();
        fields.sort_by_key(|f| f.tag);
        for f in fields {
            let (json, required) = json_name(f, shape, name);
            let inline = is_inline(f, shape, &shapes);
            let ty = match &f.message {
                Some(m) => match canonical.get(m) {
                    Some(c) => format!("M({})", index[c.as_str()]),
                    None => return Err(format!("{name}.{}: unknown message {m}", f.name).into()),
                },
                None => match f.scalar.as_str() {
                    "string" => "Str".into(),
                    "bytes" => "Bytes".into(),
                    "bool" => "Bool".into(),
                    "int32" => "I32".into(),
                    "int64" => "I64".into(),
                    "double" => "F64".into(),
                    other => return Err(format!("{name}.{}: scalar {other}", f.name).into()),
                },
            };
            let card = match (f.map, f.repeated, required) {
                _ if inline => "Inline",
                (true, _, _) => "Map",
                (_, true, _) => "Rep",
                (_, _, true) => "Req",
                _ => "Opt",
            };
            writeln!(out, "        f({}, \"{json}\", {ty}, {card}),", f.tag)?;
        }
        out.push_str("    ]),\n");
    }
    out.push_str("];\n\n");
    out.push_str(
        "/// `(apiVersion, kind, message index)`, sorted, for the kinds k8s-openapi calls resources\n\
         /// and their `...List` messages.\n",
    );
    out.push_str("pub(crate) static KINDS: &[(&str, &str, u16)] = &[\n");
    let mut rows = BTreeSet::new();
    for (api_version, kind, schema) in &kinds {
        if let Some(&i) = index.get(schema.as_str()) {
            rows.insert((api_version.clone(), kind.clone(), i));
        }
        let list = format!("{schema}List");
        if let Some(&i) = index.get(list.as_str()) {
            rows.insert((api_version.clone(), format!("{kind}List"), i));
        }
    }
    for (v, k, i) in rows {
        writeln!(out, "    (\"{v}\", \"{k}\", {i}),")?;
    }
    out.push_str("];\n");
    print!("{out}");
    Ok(())
}

const HEADER: &str =
    "//! @generated by `cargo run -p gantry-protobuf --example generate_table`; do not edit.
//!
//! One entry per Kubernetes protobuf message, sorted by OpenAPI name: its protobuf fields by tag
//! with the JSON name, the type (`M(i)` is `MESSAGES[i]`) and the cardinality.

use crate::schema::{Card::*, Message, Special::*, Type::*, f, m};

";

/// Whether a field is a Go struct embedded with `json:",inline"`: a single message field without a
/// JSON name of its own whose message's JSON fields all appear in the outer object.
fn is_inline(
    f: &ProtoField,
    outer: Option<&JsonShape>,
    shapes: &BTreeMap<String, (String, JsonShape)>,
) -> bool {
    let (Some(outer), Some(inner), false, false) = (outer, &f.message, f.repeated, f.map) else {
        return false;
    };
    let key = f.name.replace('_', "");
    let named = outer
        .fields
        .iter()
        .any(|(j, _)| j.to_lowercase().replace(['_', '-', '$'], "") == key);
    let Some((_, inner)) = shapes.get(inner) else {
        return false;
    };
    !named
        && !inner.fields.is_empty()
        && inner
            .fields
            .iter()
            .all(|(j, _)| outer.fields.iter().any(|(o, _)| o == j))
}

/// The JSON name of a prost field (matched against k8s-openapi without case and underscores),
/// and whether k8s-openapi treats it as required.
fn json_name(f: &ProtoField, shape: Option<&JsonShape>, message: &str) -> (String, bool) {
    let key = f.name.replace('_', "");
    if let Some(shape) = shape {
        for (json, required) in &shape.fields {
            if json.to_lowercase().replace(['_', '-', '$'], "") == key {
                return (json.clone(), *required);
            }
        }
    }
    let mut camel = String::new();
    let mut upper = false;
    for c in f.name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            camel.extend(c.to_uppercase());
            upper = false;
        } else {
            camel.push(c);
        }
    }
    if shape.is_some() {
        eprintln!("no JSON name for {message}.{}, using {camel}", f.name);
    }
    (camel, false)
}

fn package_dir(name: &str) -> Result<PathBuf, Box<dyn std::error::Error>> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--format-version", "1"])
        .output()?;
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let packages = meta["packages"].as_array().ok_or("no packages")?;
    for p in packages {
        if p["name"] == name {
            let manifest = p["manifest_path"].as_str().ok_or("no manifest")?;
            return Ok(Path::new(manifest).parent().ok_or("root")?.to_path_buf());
        }
    }
    Err(format!("package {name} not in cargo metadata").into())
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Collects `pub struct` messages of one prost module (`module` is its path below `src`).
fn parse_prost(src: &str, module: &[String], out: &mut Messages) {
    let mut current: Option<String> = None;
    let mut attr: Option<String> = None;
    let mut decl = String::new();
    for line in src.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub struct ") {
            let name = rest.trim_end_matches(" {}").trim_end_matches(" {").trim();
            let full = full_name(module, name);
            let display = format!("io.k8s.{}.{name}", module.join("."));
            out.entry(full.clone()).or_default().0 = display;
            current = (!rest.ends_with("{}")).then_some(full);
        } else if line == "}" {
            current = None;
        } else if line.starts_with("#[prost(") {
            attr = Some(line.to_string());
            decl.clear();
        } else if attr.is_some() && !line.starts_with("///") {
            decl.push_str(line);
            let balanced = decl.matches('<').count() == decl.matches('>').count();
            if decl.ends_with(',') && balanced {
                let (Some(msg), Some(a)) = (&current, attr.take()) else {
                    continue;
                };
                if let Some(f) = parse_field(&a, &decl, module) {
                    out.entry(msg.clone()).or_default().1.push(f);
                }
            }
        }
    }
}

fn full_name(module: &[String], name: &str) -> String {
    format!("io.k8s.{}.{}", module.join("."), name).to_lowercase()
}

fn parse_field(attr: &str, decl: &str, module: &[String]) -> Option<ProtoField> {
    let inner = attr.strip_prefix("#[prost(")?.strip_suffix(")]")?;
    let tag = inner
        .split("tag = \"")
        .nth(1)?
        .split('"')
        .next()?
        .parse()
        .ok()?;
    let first = inner.split(',').next()?.trim();
    let map = first.starts_with("btree_map");
    let scalar = if map {
        inner
            .split('"')
            .nth(1)?
            .split(',')
            .nth(1)?
            .trim()
            .to_string()
    } else {
        first.split(' ').next()?.to_string()
    };
    let name = decl.strip_prefix("pub ")?.split(':').next()?.trim();
    let name = name.trim_start_matches("r#").to_string();
    let ty = decl.split_once(':')?.1.trim().trim_end_matches(',');
    let message = if scalar == "message" {
        let mut t = ty.to_string();
        for wrapper in [
            "::core::option::Option<",
            "::prost::alloc::vec::Vec<",
            "::prost::alloc::boxed::Box<",
        ] {
            t = t.replace(wrapper, "");
        }
        let mut path = t.trim_end_matches(['>', ',', ' ']).trim();
        if map {
            path = path.rsplit(',').next()?.trim();
        }
        let mut module = module.to_vec();
        let mut parts: Vec<&str> = path.split("::").collect();
        let last = parts.pop()?;
        for p in parts {
            if p == "super" {
                module.pop();
            } else {
                module.push(p.replace('_', "-"));
            }
        }
        Some(full_name(&module, last))
    } else {
        None
    };
    Some(ProtoField {
        name,
        tag,
        scalar,
        repeated: inner.contains("repeated"),
        map,
        message,
    })
}

/// Collects schema names, JSON field names and resource kinds from one k8s-openapi file.
fn parse_openapi(
    src: &str,
    shapes: &mut BTreeMap<String, (String, JsonShape)>,
    kinds: &mut BTreeSet<(String, String, String)>,
) {
    let lines: Vec<&str> = src.lines().map(str::trim).collect();
    let mut schema_of: BTreeMap<String, String> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        if let Some(ty) = impl_for(line, "impl crate::schemars::JsonSchema for ")
            && let Some(name) = lines[i..].iter().find_map(|l| quoted_into(l))
        {
            schema_of.insert(ty, name);
        }
    }
    let mut current: Option<String> = None;
    let mut resource: Option<(String, Option<String>, Option<String>)> = None;
    for (i, line) in lines.iter().enumerate() {
        if let Some(ty) = impl_for(line, "impl crate::serde::Serialize for ") {
            current = schema_of.get(&ty).cloned();
            if let Some(s) = &current {
                shapes.insert(s.to_lowercase(), (s.clone(), JsonShape::default()));
            }
        }
        if let Some(ty) = impl_for(line, "impl crate::Resource for ") {
            resource = schema_of.get(&ty).map(|s| (s.clone(), None, None));
        }
        if let Some((_, v, k)) = &mut resource {
            if let Some(x) = const_str(line, "const API_VERSION: &'static str = ") {
                *v = Some(x);
            } else if let Some(x) = const_str(line, "const KIND: &'static str = ") {
                *k = Some(x);
            }
            if let (Some(_), Some(_)) = (&v, &k)
                && let Some((s, Some(v), Some(k))) = resource.take()
            {
                kinds.insert((v, k, s));
            }
        }
        let Some(s) = &current else { continue };
        let Some(rest) = line.split("serialize_field(&mut state, \"").nth(1) else {
            continue;
        };
        let Some(json) = rest.split('"').next() else {
            continue;
        };
        let required = i == 0 || !lines[i - 1].starts_with("if let Some(");
        if let Some((_, shape)) = shapes.get_mut(&s.to_lowercase()) {
            shape.fields.push((json.to_string(), required));
        }
    }
}

fn impl_for(line: &str, prefix: &str) -> Option<String> {
    let rest = line.strip_prefix(prefix)?;
    Some(rest.split([' ', '<', '{']).next()?.to_string())
}

fn quoted_into(line: &str) -> Option<String> {
    let rest = line.strip_prefix('"')?;
    Some(rest.strip_suffix("\".into()")?.to_string())
}

fn const_str(line: &str, prefix: &str) -> Option<String> {
    let rest = line.strip_prefix(prefix)?.strip_prefix('"')?;
    Some(rest.strip_suffix("\";")?.to_string())
}
