//! A CustomResourceDefinition through its whole life with kubectl: created and Established,
//! then its objects used with get (printer columns, short name, category `all`), describe,
//! apply (with schema and strict-decoding errors), scale, status, explain and delete; deleting
//! the CRD removes its objects and its resource.

use serde_json::json;

use crate::harness::{DEADLINE, Kubectl, Server, wait_until};

crate::per_kubectl! {
    custom_resource_lifecycle => lifecycle;
}

const CRD_NAME: &str = "widgets.example.com";

const CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, listKind: WidgetList, shortNames: [wd], categories: [all]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    - {name: Color, type: string, jsonPath: .spec.color}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    subresources:
      status: {}
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            description: What the widget should be.
            properties:
              size: {type: integer, minimum: 1, description: How big the widget is.}
              color: {type: string, default: grey}
              replicas: {type: integer}
          status:
            type: object
            properties:
              replicas: {type: integer}
"#;

fn widget(name: &str, spec: &str) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: {name}\n  namespace: default\nspec: {spec}\n"
    )
}

fn create_crd(k: &Kubectl) {
    let out = k.ok_stdin(&["create", "-f", "-"], CRD);
    assert_eq!(
        out.trim(),
        format!("customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} created")
    );
    let waited = k.ok(&[
        "wait",
        "--for",
        "condition=established",
        &format!("crd/{CRD_NAME}"),
        "--timeout=30s",
    ]);
    assert_eq!(
        waited.trim(),
        format!("customresourcedefinition.apiextensions.k8s.io/{CRD_NAME} condition met")
    );
    let crd = k.json(&["get", "crd", CRD_NAME]);
    let conditions = crd["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for wanted in ["Established", "NamesAccepted"] {
        assert!(
            conditions
                .iter()
                .any(|c| c["type"] == wanted && c["status"] == "True"),
            "{wanted} missing: {crd}"
        );
    }
    assert_eq!(crd["status"]["acceptedNames"]["kind"], "Widget");
}

fn lists_widgets(k: &Kubectl) -> bool {
    k.ok(&["api-resources", "--api-group=example.com", "--cached=false"])
        .lines()
        .any(|l| l.starts_with("widgets "))
}

fn lifecycle(minor: u32) {
    let server = Server::start();
    let k = Kubectl::new(&server, minor);
    create_crd(&k);
    wait_until("widgets are in discovery", DEADLINE, || lists_widgets(&k));
    let resources = k.ok(&["api-resources", "--api-group=example.com"]);
    let row: Vec<&str> = resources
        .lines()
        .find(|l| l.starts_with("widgets "))
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row,
        ["widgets", "wd", "example.com/v1", "true", "Widget"],
        "{resources}"
    );

    let out = k.ok_stdin(
        &["apply", "-f", "-"],
        &widget("w1", "{size: 3, color: blue, replicas: 1}"),
    );
    assert_eq!(out.trim(), "widget.example.com/w1 created");
    k.ok_stdin(&["apply", "-f", "-"], &widget("w2", "{size: 5}"));
    let w2 = k.json(&["get", "widget", "w2"]);
    assert_eq!(w2["spec"]["color"], "grey", "schema default applied: {w2}");
    let again = k.ok_stdin(
        &["apply", "-f", "-"],
        &widget("w1", "{size: 3, color: blue, replicas: 1}"),
    );
    assert_eq!(again.trim(), "widget.example.com/w1 unchanged");

    // Printer columns, through the plural, the short name and the category.
    let table = k.ok(&["get", "widgets"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["NAME", "SIZE", "COLOR", "AGE"], "{table}");
    assert_eq!(lines[1][..3], ["w1", "3", "blue"], "{table}");
    assert_eq!(lines[2][..3], ["w2", "5", "grey"], "{table}");
    let short = k.ok(&["get", "wd", "-o", "name"]);
    assert_eq!(
        short.lines().collect::<Vec<_>>(),
        ["widget.example.com/w1", "widget.example.com/w2"],
        "the short name lists widgets"
    );
    let all = k.ok(&["get", "all"]);
    assert!(
        all.contains("widget.example.com/w1") && all.contains("widget.example.com/w2"),
        "get all includes widgets:\n{all}"
    );

    let described = k.ok(&["describe", "widget", "w1"]);
    for line in [
        "Name:",
        "w1",
        "Kind:         Widget",
        "API Version:  example.com/v1",
        "Color:",
        "blue",
        "Size:",
        "3",
    ] {
        assert!(
            described.contains(line),
            "describe lacks {line:?}:\n{described}"
        );
    }

    // Schema validation names the field; unknown fields are a strict decoding error.
    let invalid = k.fails(&["apply", "-f", "-"], Some(&widget("bad", "{size: 0}")));
    // kubectl words a 422 from Status.details (kind and name); the causes name the field.
    assert!(
        invalid.contains(r#"The Widget "bad" is invalid: spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1"#),
        "{invalid}"
    );
    let unknown = k.fails(
        &["apply", "-f", "-"],
        Some(&widget("bad", "{size: 2, bogus: 1}")),
    );
    assert!(
        unknown.contains(r#"strict decoding error: unknown field "spec.bogus""#),
        "{unknown}"
    );
    let missing = k.run(&["get", "widget", "bad"]);
    assert!(
        !missing.success && missing.stderr.contains("NotFound"),
        "rejected objects are not stored: {missing:?}"
    );

    // The scale subresource writes spec.replicas; the status subresource owns status.
    let scaled = k.ok(&["scale", "widget", "w1", "--replicas=4"]);
    assert_eq!(scaled.trim(), "widget.example.com/w1 scaled");
    assert_eq!(k.json(&["get", "widget", "w1"])["spec"]["replicas"], 4);
    let scale = k.ok(&[
        "get",
        "--raw",
        "/apis/example.com/v1/namespaces/default/widgets/w1/scale",
    ]);
    let scale: serde_json::Value =
        serde_json::from_str(&scale).unwrap_or_else(|e| panic!("scale is JSON ({e}): {scale}"));
    assert_eq!(
        (scale["kind"].clone(), scale["spec"]["replicas"].clone()),
        (json!("Scale"), json!(4)),
        "{scale}"
    );
    k.ok(&[
        "patch",
        "widget",
        "w1",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"replicas":9}}"#,
    ]);
    let w1 = k.json(&["get", "widget", "w1"]);
    assert!(
        w1["status"]["replicas"].is_null(),
        "the main resource ignores status: {w1}"
    );
    k.ok(&[
        "patch",
        "widget",
        "w1",
        "--subresource=status",
        "--type",
        "merge",
        "-p",
        r#"{"status":{"replicas":4},"spec":{"size":99}}"#,
    ]);
    let w1 = k.json(&["get", "widget", "w1"]);
    assert_eq!(
        (w1["status"]["replicas"].clone(), w1["spec"]["size"].clone()),
        (json!(4), json!(3)),
        "/status writes only status: {w1}"
    );

    let explained = k.ok(&["explain", "widget.spec"]);
    for text in [
        "KIND:",
        "Widget",
        "What the widget should be.",
        "size",
        "<integer>",
        "How big the widget is.",
        "color",
        "<string>",
    ] {
        assert!(
            explained.contains(text),
            "explain lacks {text:?}:\n{explained}"
        );
    }

    let deleted = k.ok(&["delete", "widget", "w2"]);
    assert_eq!(deleted.trim(), r#"widget.example.com "w2" deleted"#);
    let left = k.json(&["get", "widgets"]);
    assert_eq!(left["items"].as_array().map(Vec::len), Some(1), "{left}");

    // Deleting the CRD removes its objects and its resource.
    let gone = k.ok(&["delete", "crd", CRD_NAME]);
    assert_eq!(
        gone.trim(),
        format!(r#"customresourcedefinition.apiextensions.k8s.io "{CRD_NAME}" deleted"#)
    );
    wait_until("widgets leave discovery", DEADLINE, || !lists_widgets(&k));
    let unknown_type = k.run(&["get", "widgets"]);
    assert!(
        !unknown_type.success
            && unknown_type
                .stderr
                .contains(r#"the server doesn't have a resource type "widgets""#),
        "{unknown_type:?}"
    );
    create_crd(&k);
    wait_until("widgets are back in discovery", DEADLINE, || {
        lists_widgets(&k)
    });
    let fresh = k.json(&["get", "widgets", "-A"]);
    assert_eq!(
        fresh["items"],
        json!([]),
        "objects of a deleted CRD do not come back with it: {fresh}"
    );
}
