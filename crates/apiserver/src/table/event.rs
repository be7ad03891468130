//! The event printer (LAST SEEN, TYPE, REASON, OBJECT, MESSAGE and the wide columns), shared by
//! core/v1 events and events.k8s.io/v1 events, which are mapped onto core/v1 field names first.

use k8s_openapi::api::core::v1 as core;
use serde_json::{Value, json};

use super::format::{human_duration, int, text, timestamp};
use super::{Printer, column, doc, name_column};

/// The core/v1 Event printer; events.k8s.io/v1 events are mapped onto the same fields first.
pub const EVENT: Printer = Printer::new(
    || {
        vec![
            column(
                "Last Seen",
                "string",
                doc::<core::Event>("lastTimestamp"),
                0,
            ),
            column("Type", "string", doc::<core::Event>("type"), 0),
            column("Reason", "string", doc::<core::Event>("reason"), 0),
            column("Object", "string", doc::<core::Event>("involvedObject"), 0),
            column(
                "Subobject",
                "string",
                doc::<core::ObjectReference>("fieldPath"),
                1,
            ),
            column("Source", "string", doc::<core::Event>("source"), 1),
            column("Message", "string", doc::<core::Event>("message"), 0),
            column(
                "First Seen",
                "string",
                doc::<core::Event>("firstTimestamp"),
                1,
            ),
            column("Count", "string", doc::<core::Event>("count"), 1),
            json!({"name": "Name", "type": "string", "format": "name", "description": name_column()["description"], "priority": 1}),
        ]
    },
    event,
);

fn event(o: &Value, now: i64) -> Vec<Value> {
    let ago = |t: Option<i64>| t.map_or("<unknown>".to_string(), |t| human_duration(now - t));
    let first = timestamp(&o["firstTimestamp"]).or_else(|| timestamp(&o["eventTime"]));
    let mut last = ago(timestamp(&o["lastTimestamp"]).or(first));
    let mut count = int(&o["count"]);
    if o["series"].is_object() {
        last = ago(timestamp(&o["series"]["lastObservedTime"]));
        count = int(&o["series"]["count"]);
    } else if count == 0 {
        count = 1;
    }
    let inv = &o["involvedObject"];
    let kind = text(&inv["kind"]).to_lowercase();
    let target = match text(&inv["name"]) {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    let component = [
        text(&o["source"]["component"]),
        text(&o["reportingComponent"]),
    ]
    .into_iter()
    .find(|s| !s.is_empty())
    .unwrap_or("");
    let host = [text(&o["source"]["host"]), text(&o["reportingInstance"])]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("");
    let source = if host.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {host}")
    };
    vec![
        json!(last),
        json!(text(&o["type"])),
        json!(text(&o["reason"])),
        json!(target),
        json!(text(&inv["fieldPath"])),
        json!(source),
        json!(text(&o["message"]).trim()),
        json!(ago(first)),
        json!(count),
        o["metadata"]["name"].clone(),
    ]
}

/// An events.k8s.io/v1 Event in core/v1 field names, as upstream converts it before printing.
pub fn core_event(e: &Value) -> Value {
    json!({
        "metadata": e["metadata"],
        "involvedObject": e["regarding"],
        "message": e["note"],
        "reason": e["reason"],
        "type": e["type"],
        "source": e["deprecatedSource"],
        "firstTimestamp": e["deprecatedFirstTimestamp"],
        "lastTimestamp": e["deprecatedLastTimestamp"],
        "count": e["deprecatedCount"],
        "eventTime": e["eventTime"],
        "series": e["series"],
        "reportingComponent": e["reportingController"],
        "reportingInstance": e["reportingInstance"],
    })
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::EVENT;
    use crate::table::tests::{ago, cells};

    #[test]
    fn events_like_upstream() {
        let cases = [
            (
                json!({"metadata": {"name": "p.1"}, "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.containers{a}"}, "reason": "BackOff", "type": "Warning", "message": "Back-off restarting ", "firstTimestamp": ago(600), "lastTimestamp": ago(60), "count": 7, "source": {"component": "kubelet", "host": "n1"}}),
                json!([
                    "60s",
                    "Warning",
                    "BackOff",
                    "pod/p",
                    "spec.containers{a}",
                    "kubelet, n1",
                    "Back-off restarting",
                    "10m",
                    7,
                    "p.1"
                ]),
            ),
            (
                json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Node"}, "reason": "Starting", "type": "Normal", "eventTime": ago(30), "reportingComponent": "gantry", "series": {"count": 3, "lastObservedTime": ago(5)}}),
                json!([
                    "5s", "Normal", "Starting", "node", "", "gantry", "", "30s", 3, "e"
                ]),
            ),
            (
                json!({"metadata": {"name": "bare"}}),
                json!(["<unknown>", "", "", "", "", "", "", "<unknown>", 1, "bare"]),
            ),
        ];
        for (obj, want) in cases {
            assert_eq!(Value::from(cells(&EVENT, &obj)), want, "{obj}");
        }
    }
}
