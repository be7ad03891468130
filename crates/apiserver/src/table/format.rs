//! How upstream printers spell values: human durations, label maps, label selectors, container
//! lists, quantities. Pure functions over JSON; missing or mistyped fields read as empty.

use serde_json::{Map, Value};

/// The string at `v`, or "" when absent or not a string.
pub fn text(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The integer at `v`, or 0.
pub fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or(0)
}

/// The array at `v`, or an empty slice.
pub fn list(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// Seconds since the epoch of an RFC 3339 timestamp (`Time` or `MicroTime`).
pub fn timestamp(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// apimachinery's `duration.HumanDuration`: `45s`, `2m30s`, `50m`, `4h1m`, `20h`, `3d4h`, `30d`,
/// `2y10d`, `9y`; more than a second in the future is `<invalid>`.
pub fn human_duration(secs: i64) -> String {
    if secs < -1 {
        return "<invalid>".into();
    }
    if secs < 0 {
        return "0s".into();
    }
    if secs < 120 {
        return format!("{secs}s");
    }
    let minutes = secs / 60;
    if minutes < 10 {
        return match secs % 60 {
            0 => format!("{minutes}m"),
            s => format!("{minutes}m{s}s"),
        };
    }
    if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = secs / 3600;
    if hours < 8 {
        return match minutes % 60 {
            0 => format!("{hours}h"),
            m => format!("{hours}h{m}m"),
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return match hours % 24 {
            0 => format!("{}d", hours / 24),
            h => format!("{}d{h}h", hours / 24),
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return match (hours / 24) % 365 {
            0 => format!("{}y", hours / 24 / 365),
            d => format!("{}y{d}d", hours / 24 / 365),
        };
    }
    format!("{}y", hours / 24 / 365)
}

/// Time since the timestamp at `v`, or `<unknown>` when there is none (`translateTimestampSince`).
pub fn since(v: &Value, now: i64) -> String {
    timestamp(v).map_or_else(|| "<unknown>".into(), |t| human_duration(now - t))
}

/// `labels.FormatLabels`: `k=v` pairs sorted by key, or `<none>`.
pub fn labels(v: &Value) -> String {
    let Some(map) = v.as_object().filter(|m| !m.is_empty()) else {
        return "<none>".into();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", text(v)))
        .collect();
    pairs.sort();
    pairs.join(",")
}

fn requirement(key: &str, op: &str, values: &[Value]) -> Option<String> {
    let mut vals: Vec<&str> = values.iter().filter_map(Value::as_str).collect();
    vals.sort_unstable();
    vals.dedup();
    match op {
        "In" => Some(format!("{key} in ({})", vals.join(","))),
        "NotIn" => Some(format!("{key} notin ({})", vals.join(","))),
        "Exists" => Some(key.to_string()),
        "DoesNotExist" => Some(format!("!{key}")),
        _ => None,
    }
}

/// `LabelSelectorAsSelector(sel).String()`: requirements sorted by key; `None` when the selector
/// is invalid. A missing or empty selector is "".
pub fn selector(sel: &Value) -> Option<String> {
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = sel["matchLabels"].as_object() {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", text(v))));
        }
    }
    for expr in list(&sel["matchExpressions"]) {
        let key = text(&expr["key"]);
        reqs.push((
            key.to_string(),
            requirement(key, text(&expr["operator"]), list(&expr["values"]))?,
        ));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Some(
        reqs.into_iter()
            .map(|(_, r)| r)
            .collect::<Vec<_>>()
            .join(","),
    )
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when empty, `<error>` when invalid.
pub fn label_selector(sel: &Value) -> String {
    match selector(sel) {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s,
    }
}

/// `layoutContainerCells`: container names and images, comma separated.
pub fn containers(pod_spec: &Value) -> (String, String) {
    let cs = list(&pod_spec["containers"]);
    let names: Vec<&str> = cs.iter().map(|c| text(&c["name"])).collect();
    let images: Vec<&str> = cs.iter().map(|c| text(&c["image"])).collect();
    (names.join(","), images.join(","))
}

/// An IntOrString as upstream's `String()` spells it.
pub fn int_or_string(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => String::new(),
    }
}

/// A quantity as stored (upstream re-canonicalises; clients send canonical forms in practice).
pub fn quantity(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => "0".into(),
    }
}

/// `helper.GetAccessModesAsString`: RWO, ROX, RWX, RWOP in that order.
pub fn access_modes(v: &Value) -> String {
    let modes: Vec<&str> = list(v).iter().filter_map(Value::as_str).collect();
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(m, _)| modes.contains(m))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// The object map at `v`, if any.
pub fn object(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn human_durations_like_apimachinery() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (5, "5s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (3000, "50m"),
            (4 * 3600, "4h"),
            (4 * 3600 + 60, "4h1m"),
            (20 * 3600, "20h"),
            (3 * 86400, "3d"),
            (3 * 86400 + 7200, "3d2h"),
            (30 * 86400, "30d"),
            (800 * 86400, "2y70d"),
            (10 * 365 * 86400, "10y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(secs), want, "{secs}");
        }
    }

    #[test]
    fn selectors_like_apimachinery() {
        let cases = [
            (json!(null), "<none>"),
            (json!({}), "<none>"),
            (json!({"matchLabels": {"b": "2", "a": "1"}}), "a=1,b=2"),
            (
                json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}, {"key": "env", "operator": "DoesNotExist"}]}),
                "app=x,!env,tier in (api,web)",
            ),
            (
                json!({"matchExpressions": [{"key": "k", "operator": "Bogus"}]}),
                "<error>",
            ),
        ];
        for (sel, want) in cases {
            assert_eq!(label_selector(&sel), want, "{sel}");
        }
        assert_eq!(labels(&json!({"z": "1", "a": "2"})), "a=2,z=1");
        assert_eq!(labels(&json!(null)), "<none>");
        assert_eq!(
            access_modes(&json!(["ReadWriteMany", "ReadWriteOnce"])),
            "RWO,RWX"
        );
    }
}
