//! Views: a resource served from another resource's storage, converted on the way in and
//! out. events.k8s.io/v1 Events are a view of core/v1 Events, as upstream, so an event
//! written through either API is seen through both.

use serde_json::{Map, Value, json};

/// How a resource maps onto the storage of another.
pub struct View {
    /// The storage group whose keys hold the objects (`"core"` for the core group).
    pub storage_group: &'static str,
    /// Converts an object of this resource into the stored resource's form.
    pub to_storage: fn(&Value) -> Value,
    /// Converts a stored object into this resource's form.
    pub from_storage: fn(&Value) -> Value,
}

/// Field renames between events.k8s.io/v1 (left) and core/v1 (right).
const EVENT_FIELDS: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

/// Fields with the same name in both APIs.
const EVENT_SHARED: &[&str] = &[
    "metadata",
    "reason",
    "type",
    "action",
    "related",
    "series",
    "eventTime",
    "reportingInstance",
];

fn rename(
    obj: &Value,
    pairs: impl Iterator<Item = (&'static str, &'static str)>,
    api_version: &str,
) -> Value {
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!("Event"));
    for key in EVENT_SHARED {
        if let Some(v) = obj.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).to_string(), v.clone());
        }
    }
    for (from, to) in pairs {
        if let Some(v) = obj.get(from).filter(|v| !v.is_null()) {
            out.insert(to.to_string(), v.clone());
        }
    }
    Value::Object(out)
}

fn event_to_core(event: &Value) -> Value {
    let mut core = rename(event, EVENT_FIELDS.iter().copied(), "v1");
    // core/v1 series carry the count and last time under the same names as events.k8s.io.
    if core["series"].is_object() && core["count"].is_null() {
        core["count"] = core["series"]["count"].clone();
    }
    core
}

fn core_to_event(core: &Value) -> Value {
    rename(
        core,
        EVENT_FIELDS.iter().map(|(a, b)| (*b, *a)),
        "events.k8s.io/v1",
    )
}

pub static EVENTS_V1: View = View {
    storage_group: "core",
    to_storage: event_to_core,
    from_storage: core_to_event,
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_convert_both_ways() {
        let event = json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "e1", "namespace": "default"},
            "eventTime": "2024-01-01T00:00:00.000000Z", "reason": "Scaled", "type": "Normal", "action": "Scale",
            "regarding": {"kind": "Deployment", "name": "web"}, "note": "scaled up", "reportingController": "gantry/deployment",
            "reportingInstance": "gantry-1",
        });
        let core = event_to_core(&event);
        assert_eq!(core["apiVersion"], "v1");
        assert_eq!(core["involvedObject"]["name"], "web");
        assert_eq!(core["message"], "scaled up");
        assert_eq!(core["reportingComponent"], "gantry/deployment");
        assert!(core.get("regarding").is_none());
        assert_eq!(core_to_event(&core), event);
    }

    #[test]
    fn core_events_show_through_events_v1() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "p.1"}, "involvedObject": {"kind": "Pod"}, "message": "m", "count": 3, "firstTimestamp": "2024-01-01T00:00:00Z", "source": {"component": "kubelet"}});
        let event = core_to_event(&core);
        assert_eq!(event["regarding"]["kind"], "Pod");
        assert_eq!(event["note"], "m");
        assert_eq!(event["deprecatedCount"], 3);
        assert_eq!(event["deprecatedSource"]["component"], "kubelet");
    }
}
