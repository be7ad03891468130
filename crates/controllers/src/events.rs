//! Events the controllers record about the objects they act on, the lines `kubectl describe`
//! shows under "Events:" (`ScalingReplicaSet`, `SuccessfulCreate`, ...), written as core/v1
//! Events like upstream's event recorder.
//!
//! Recording never blocks or fails a reconcile: each Event is written by a task of its own and
//! a failed write is only logged. Like upstream's spam filter, each involved object gets a
//! budget of [`BURST`] Events that refills by one every [`REFILL`]: a ReplicaSet creating a
//! thousand pods records its first 25 creations, not a thousand writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, PostParams};
use kube::{Resource, ResourceExt};

/// Events an object may get at once.
pub const BURST: f64 = 25.0;
/// How long it takes to earn one more Event once the burst is spent.
pub const REFILL: Duration = Duration::from_secs(300);
/// Objects whose budgets are remembered; beyond this the oldest full budgets are forgotten.
const MAX_TRACKED: usize = 4096;

/// An object's Event budget.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    tokens: f64,
    at: Instant,
}

impl Budget {
    pub fn full(now: Instant) -> Budget {
        Budget {
            tokens: BURST,
            at: now,
        }
    }

    /// Whether the budget has refilled completely by `now`.
    pub fn is_full(&self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() / REFILL.as_secs_f64();
        self.tokens + earned >= BURST
    }

    /// Takes one Event from the budget if there is one (refilled for the time since `at`).
    pub fn take(&mut self, now: Instant) -> bool {
        let earned = now.saturating_duration_since(self.at).as_secs_f64() / REFILL.as_secs_f64();
        self.tokens = (self.tokens + earned).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Normal or Warning, as core/v1 Events spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Normal,
    Warning,
}

/// Records Events for one controller (`component` is its source, e.g. `deployment-controller`).
#[derive(Clone)]
pub struct Recorder {
    client: kube::Client,
    component: &'static str,
    budgets: Arc<Mutex<HashMap<String, Budget>>>,
}

impl Recorder {
    pub fn new(client: kube::Client, component: &'static str) -> Recorder {
        Recorder {
            client,
            component,
            budgets: Arc::default(),
        }
    }

    /// Records `reason`/`message` about `obj` unless its budget is spent.
    pub fn record<K>(&self, obj: &K, kind: Kind, reason: &str, message: String)
    where
        K: Resource<DynamicType = ()>,
    {
        let uid = obj.uid().unwrap_or_default();
        if !self.admit(&uid, Instant::now()) {
            return;
        }
        let event = self.event(obj, kind, reason, message);
        let namespace = event.metadata.namespace.clone().unwrap_or_default();
        let events: Api<Event> = Api::namespaced(self.client.clone(), &namespace);
        tokio::spawn(async move {
            if let Err(error) = events.create(&PostParams::default(), &event).await {
                tracing::debug!(%error, "recording an event failed");
            }
        });
    }

    fn admit(&self, uid: &str, now: Instant) -> bool {
        let Ok(mut budgets) = self.budgets.lock() else {
            return false;
        };
        if budgets.len() >= MAX_TRACKED && !budgets.contains_key(uid) {
            // Forget the budgets that have refilled; they would start full anyway.
            budgets.retain(|_, b| !b.is_full(now));
        }
        budgets
            .entry(uid.to_string())
            .or_insert_with(|| Budget::full(now))
            .take(now)
    }

    fn event<K>(&self, obj: &K, kind: Kind, reason: &str, message: String) -> Event
    where
        K: Resource<DynamicType = ()>,
    {
        let now = Timestamp::now();
        let name = obj.name_any();
        let namespace = obj.namespace().unwrap_or_else(|| "default".into());
        Event {
            metadata: ObjectMeta {
                name: Some(format!("{name}.{:x}", now.as_nanosecond())),
                namespace: Some(namespace),
                ..ObjectMeta::default()
            },
            involved_object: ObjectReference {
                api_version: Some(K::api_version(&()).into_owned()),
                kind: Some(K::kind(&()).into_owned()),
                name: Some(name),
                namespace: obj.namespace(),
                uid: obj.uid(),
                resource_version: obj.resource_version(),
                ..ObjectReference::default()
            },
            reason: Some(reason.to_string()),
            message: Some(message),
            type_: Some(match kind {
                Kind::Normal => "Normal".into(),
                Kind::Warning => "Warning".into(),
            }),
            count: Some(1),
            first_timestamp: Some(Time(now)),
            last_timestamp: Some(Time(now)),
            source: Some(EventSource {
                component: Some(self.component.to_string()),
                host: None,
            }),
            reporting_component: Some(self.component.to_string()),
            reporting_instance: Some(self.component.to_string()),
            ..Event::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_allows_a_burst_then_one_per_refill() {
        let t0 = Instant::now();
        let mut b = Budget::full(t0);
        let granted = (0..40).filter(|_| b.take(t0)).count();
        assert_eq!(granted, BURST as usize);
        let cases = [
            (REFILL / 2, false),
            (REFILL, true),
            (REFILL + Duration::from_secs(1), false),
            (REFILL * 3, true),
        ];
        for (after, want) in cases {
            assert_eq!(b.take(t0 + after), want, "{after:?}");
        }
    }

    #[test]
    fn budget_never_exceeds_the_burst() {
        let t0 = Instant::now();
        let mut b = Budget::full(t0);
        let later = t0 + REFILL * 1000;
        let granted = (0..100).filter(|_| b.take(later)).count();
        assert_eq!(granted, BURST as usize);
    }
}
