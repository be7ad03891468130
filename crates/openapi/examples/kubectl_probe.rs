//! Throwaway HTTP server for checking the documents with a real kubectl:
//! serves discovery, `/openapi/v2` (protobuf), `/openapi/v3/...`, and echoes
//! writes back, logging every request line.
//!
//! `cargo run -p gantry-openapi --example kubectl_probe -- 127.0.0.1:18080`, then
//! `kubectl --server=http://127.0.0.1:18080 explain pod.spec.containers`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

use gantry_openapi::{Documents, ResourceDoc, builtin_resources};
use serde_json::{Value, json};

fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18080".to_owned());
    let docs = Documents::build(builtin_resources());
    let listener = TcpListener::bind(&address)?;
    eprintln!("listening on {address}");
    for stream in listener.incoming() {
        if let Err(error) = serve(stream?, &docs) {
            eprintln!("connection error: {error}");
        }
    }
    Ok(())
}

fn serve(stream: TcpStream, docs: &Documents) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    eprintln!("{}", line.trim());
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default();
    let target = parts.next().unwrap_or_default();
    let path = target.split('?').next().unwrap_or_default();
    let (status, content_type, payload) = route(method, path, body, docs);
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        payload.len()
    )?;
    stream.write_all(&payload)
}

fn json_response(value: Value) -> (&'static str, &'static str, Vec<u8>) {
    ("200 OK", "application/json", value.to_string().into_bytes())
}

fn route(
    method: &str,
    path: &str,
    body: Vec<u8>,
    docs: &Documents,
) -> (&'static str, &'static str, Vec<u8>) {
    let resources = builtin_resources();
    let mut groups: BTreeMap<&str, Vec<&ResourceDoc>> = BTreeMap::new();
    for r in resources {
        groups.entry(r.group).or_default().push(r);
    }
    if method != "GET" {
        return ("201 Created", "application/json", body);
    }
    match path {
        "/version" => json_response(json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0"})),
        "/api" => json_response(json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]})),
        "/apis" => {
            let list: Vec<Value> = groups
                .iter()
                .filter(|(g, _)| !g.is_empty())
                .map(|(g, rs)| {
                    let gv = json!({"groupVersion": format!("{g}/{}", rs[0].version), "version": rs[0].version});
                    json!({"name": g, "versions": [gv], "preferredVersion": gv})
                })
                .collect();
            json_response(json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list}))
        }
        "/openapi/v2" => (
            "200 OK",
            gantry_openapi::V2_PROTOBUF_CONTENT_TYPE,
            docs.v2_protobuf().to_vec(),
        ),
        "/openapi/v3" => ("200 OK", "application/json", docs.index().json.clone()),
        _ => {
            if let Some(rest) = path.strip_prefix("/openapi/v3/")
                && let Some(doc) = docs.by_index_path(rest)
            {
                return ("200 OK", "application/json", doc.json.clone());
            }
            let gv = path
                .strip_prefix("/api/")
                .or_else(|| path.strip_prefix("/apis/"));
            if let Some(gv) = gv {
                let listed: Vec<Value> = resources
                    .iter()
                    .filter(|r| {
                        let key = if r.group.is_empty() { r.version.to_owned() } else { format!("{}/{}", r.group, r.version) };
                        key == gv
                    })
                    .map(|r| json!({"name": r.plural, "singularName": r.kind.to_lowercase(), "namespaced": r.namespaced,
                        "kind": r.kind, "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}))
                    .collect();
                if !listed.is_empty() {
                    return json_response(
                        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": listed}),
                    );
                }
            }
            ("404 Not Found", "application/json", b"{}".to_vec())
        }
    }
}
