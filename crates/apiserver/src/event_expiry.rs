//! Events expire: an event not seen again for the TTL (one hour by default, as upstream) is
//! deleted, so events never accumulate.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::query::Query;
use crate::storage::{DeleteOptions, Storage};

/// The stored event resource (events.k8s.io/v1 is a view of it).
const EVENT_RESOURCES: &[(&str, &str)] = &[("", "v1")];

fn seconds(v: &Value) -> Option<i64> {
    v.as_str()?
        .parse::<k8s_openapi::jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// When an event was last seen: the latest of its timestamps.
pub fn last_seen(event: &Value) -> Option<i64> {
    [
        &event["lastTimestamp"],
        &event["eventTime"],
        &event["series"]["lastObservedTime"],
        &event["deprecatedLastTimestamp"],
        &event["metadata"]["creationTimestamp"],
    ]
    .into_iter()
    .filter_map(seconds)
    .max()
}

/// Whether an event last seen at `seen` has outlived `ttl` at `now` (all in seconds).
pub fn expired(seen: Option<i64>, now: i64, ttl: i64) -> bool {
    seen.is_some_and(|s| now - s >= ttl)
}

async fn sweep(storage: &Storage, ttl: Duration) {
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    let opts = DeleteOptions::default();
    for (group, version) in EVENT_RESOURCES {
        let Some(def) = storage.registry.get(group, version, "events") else {
            continue;
        };
        let events = match storage.list_objects(def, None, &Query::default()).await {
            Ok(events) => events,
            Err(e) => {
                tracing::warn!("event expiry: listing events: {e}");
                continue;
            }
        };
        for event in events
            .iter()
            .filter(|e| expired(last_seen(e), now, ttl.as_secs() as i64))
        {
            let name = event["metadata"]["name"].as_str().unwrap_or_default();
            let ns = event["metadata"]["namespace"].as_str();
            if let Err(e) = storage
                .delete(def, ns, name, &opts, &Query::default())
                .await
            {
                tracing::debug!("event expiry: deleting {name}: {e}");
            }
        }
    }
}

/// Sweeps expired events until the process ends.
pub async fn run(storage: Arc<Storage>, ttl: Duration) {
    let period = (ttl / 4).clamp(Duration::from_secs(1), Duration::from_secs(60));
    loop {
        sweep(&storage, ttl).await;
        tokio::time::sleep(period).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn last_seen_is_the_latest_timestamp() {
        let cases = [
            (
                json!({"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}}),
                Some(1_704_067_200),
            ),
            (
                json!({"metadata": {"creationTimestamp": "2024-01-01T00:00:00Z"}, "lastTimestamp": "2024-01-01T01:00:00Z"}),
                Some(1_704_070_800),
            ),
            (
                json!({"eventTime": "2024-01-01T00:00:10.123456Z", "series": {"lastObservedTime": "2024-01-01T00:00:20.000000Z"}}),
                Some(1_704_067_220),
            ),
            (json!({"metadata": {}}), None),
        ];
        for (event, want) in cases {
            assert_eq!(last_seen(&event), want, "{event}");
        }
    }

    #[test]
    fn expiry_table() {
        assert!(expired(Some(0), 3600, 3600));
        assert!(!expired(Some(1), 3600, 3600));
        assert!(
            !expired(None, 10_000, 3600),
            "events without timestamps are left alone"
        );
    }
}
