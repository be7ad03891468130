//! Leader election on a `coordination.k8s.io/v1` Lease, as upstream components do: the
//! holder renews the lease; others take it over once it has not been renewed for its
//! duration. [`run_as_leader`] runs a component only while this process holds the lease.
//!
//! The decision is the pure function [`decide`]; the loop around it does the API calls.

use std::future::Future;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};

#[derive(Debug, thiserror::Error)]
pub enum LeaderError {
    #[error("reading or writing lease {name}: {source}")]
    Api { name: String, source: kube::Error },
}

/// Where the lease lives and how it is held.
#[derive(Clone, Debug)]
pub struct LeaderConfig {
    pub namespace: String,
    pub name: String,
    /// This process's identity in `holderIdentity`.
    pub identity: String,
    /// How long a lease stays valid without renewal.
    pub lease_duration: Duration,
    /// How often the holder renews, and others retry.
    pub retry_period: Duration,
}

impl LeaderConfig {
    /// Upstream's defaults: kube-system, 15 s leases, retries every 2 s.
    pub fn new(name: &str, identity: String) -> Self {
        LeaderConfig {
            namespace: "kube-system".into(),
            name: name.into(),
            identity,
            lease_duration: Duration::from_secs(15),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// What to do with the lease as it stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// No lease exists: create it, holding it.
    Create,
    /// We hold it: renew.
    Renew,
    /// Someone else held it, but it expired: take it over.
    TakeOver,
    /// Someone else holds a valid lease: wait.
    Wait,
}

/// Decides from the current lease spec (None when absent), our identity and the time.
pub fn decide(spec: Option<&LeaseSpec>, identity: &str, now: Timestamp) -> Decision {
    let Some(spec) = spec else {
        return Decision::Create;
    };
    let holder = spec.holder_identity.as_deref().unwrap_or_default();
    if holder == identity {
        return Decision::Renew;
    }
    if holder.is_empty() {
        return Decision::TakeOver;
    }
    let renewed = spec
        .renew_time
        .as_ref()
        .or(spec.acquire_time.as_ref())
        .map(|t| t.0);
    let duration = SignedDuration::from_secs(i64::from(spec.lease_duration_seconds.unwrap_or(15)));
    match renewed {
        Some(renewed)
            if renewed
                .checked_add(duration)
                .is_ok_and(|expiry| expiry > now) =>
        {
            Decision::Wait
        }
        _ => Decision::TakeOver,
    }
}

fn held_spec(
    config: &LeaderConfig,
    previous: Option<&LeaseSpec>,
    decision: Decision,
    now: Timestamp,
) -> LeaseSpec {
    let transitions = previous.and_then(|s| s.lease_transitions).unwrap_or(0);
    let (acquire_time, transitions) = match (decision, previous) {
        (Decision::Renew, Some(p)) => (p.acquire_time.clone(), transitions),
        (Decision::TakeOver, _) => (Some(MicroTime(now)), transitions + 1),
        _ => (Some(MicroTime(now)), transitions),
    };
    LeaseSpec {
        holder_identity: Some(config.identity.clone()),
        lease_duration_seconds: Some(config.lease_duration.as_secs() as i32),
        acquire_time,
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(transitions),
        ..Default::default()
    }
}

/// One round: returns whether this process holds the lease afterwards.
async fn try_hold(api: &Api<Lease>, config: &LeaderConfig) -> Result<bool, LeaderError> {
    let err = |source| LeaderError::Api {
        name: config.name.clone(),
        source,
    };
    let now = Timestamp::now();
    let current = api.get_opt(&config.name).await.map_err(err)?;
    let decision = decide(
        current.as_ref().and_then(|l| l.spec.as_ref()),
        &config.identity,
        now,
    );
    let result = match (decision, current) {
        (Decision::Wait, _) => return Ok(false),
        (Decision::Create, _) => {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(config.name.clone()),
                    namespace: Some(config.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(held_spec(config, None, decision, now)),
            };
            api.create(&PostParams::default(), &lease).await.map(|_| ())
        }
        (_, Some(mut lease)) => {
            lease.spec = Some(held_spec(config, lease.spec.as_ref(), decision, now));
            // The resourceVersion in metadata makes this a compare-and-swap: a racing
            // candidate gets a conflict and loses.
            api.replace(&config.name, &PostParams::default(), &lease)
                .await
                .map(|_| ())
        }
        (_, None) => return Ok(false),
    };
    match result {
        Ok(()) => Ok(true),
        Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
        Err(e) => Err(err(e)),
    }
}

/// Runs `work` while this process holds the lease; stops it when leadership is lost and
/// competes again. Returns only if the API keeps failing for longer than a lease duration
/// while not leading... never: errors are logged and retried.
pub async fn run_as_leader<F, Fut>(client: kube::Client, config: LeaderConfig, work: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let api: Api<Lease> = Api::namespaced(client, &config.namespace);
    // Aborts the work when this future is dropped (the caller stopping us) as well as on loss.
    let mut running: Option<AbortOnDrop> = None;
    let mut last_renewal = tokio::time::Instant::now();
    loop {
        let held = match try_hold(&api, &config).await {
            Ok(held) => held,
            Err(e) => {
                tracing::warn!("leader election: {e}");
                // Keep leading through short API outages, but not past the lease's expiry.
                running.is_some() && last_renewal.elapsed() < config.lease_duration
            }
        };
        match (held, running.is_some()) {
            (true, false) => {
                tracing::info!(
                    "{} became leader of {}/{}",
                    config.identity,
                    config.namespace,
                    config.name
                );
                running = Some(AbortOnDrop(tokio::spawn(work())));
                last_renewal = tokio::time::Instant::now();
            }
            (true, true) => last_renewal = tokio::time::Instant::now(),
            (false, true) => {
                tracing::warn!(
                    "{} lost leadership of {}/{}",
                    config.identity,
                    config.namespace,
                    config.name
                );
                running = None;
            }
            (false, false) => {}
        }
        tokio::time::sleep(config.retry_period).await;
    }
}

/// A task that is aborted when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(holder: &str, renewed_secs_ago: i64) -> LeaseSpec {
        let now = Timestamp::from_second(1_000_000).unwrap();
        LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(
                now.checked_sub(SignedDuration::from_secs(renewed_secs_ago))
                    .unwrap(),
            )),
            ..Default::default()
        }
    }

    #[test]
    fn decisions_table() {
        let now = Timestamp::from_second(1_000_000).unwrap();
        let cases = [
            (None, Decision::Create),
            (Some(spec("me", 1)), Decision::Renew),
            (Some(spec("me", 100)), Decision::Renew),
            (Some(spec("other", 1)), Decision::Wait),
            (Some(spec("other", 14)), Decision::Wait),
            (Some(spec("other", 15)), Decision::TakeOver),
            (Some(spec("", 1)), Decision::TakeOver),
            (
                Some(LeaseSpec {
                    holder_identity: Some("other".into()),
                    ..Default::default()
                }),
                Decision::TakeOver,
            ),
        ];
        for (lease, want) in cases {
            assert_eq!(decide(lease.as_ref(), "me", now), want, "{lease:?}");
        }
    }

    #[test]
    fn taking_over_counts_a_transition_and_renewing_keeps_acquire_time() {
        let config = LeaderConfig::new("x", "me".into());
        let now = Timestamp::from_second(2_000_000).unwrap();
        let old = LeaseSpec {
            lease_transitions: Some(3),
            acquire_time: Some(MicroTime(Timestamp::from_second(5).unwrap())),
            ..spec("other", 30)
        };
        let taken = held_spec(&config, Some(&old), Decision::TakeOver, now);
        assert_eq!(taken.lease_transitions, Some(4));
        assert_eq!(taken.holder_identity.as_deref(), Some("me"));
        let renewed = held_spec(&config, Some(&old), Decision::Renew, now);
        assert_eq!(renewed.acquire_time, old.acquire_time);
        assert_eq!(renewed.lease_transitions, Some(3));
    }
}
