//! What every watch-driven component shares about its informers (kube-runtime reflector
//! stores fed by watches).
//!
//! - [`ready`]: waits until a store has seen its first complete list. kube-runtime's own
//!   `Store::wait_until_ready` keeps a single waker (a oneshot receiver behind a mutex), so when
//!   several tasks wait on one store at the same time only the last one polled is woken; the
//!   others hang until something polls them again, which a controller never does. That lost
//!   wakeup left a controller's reconciles stuck for good when a server started under load.
//!   [`ready`] re-polls on a short tick, so every waiter sees the store become ready.
//! - [`agent_backoff`]: how a node agent (kubelet, proxy, DNS, simulated nodes) reconnects
//!   its watches after the API server went away: quickly, because a restarted server is usually
//!   back within seconds, with jitter so a thousand nodes do not reconnect in step.
//! - [`LeanPod`]: pods decoded without managedFields, for caches.

mod lean_pod;

use std::time::Duration;

use futures::{Stream, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::reflector::Store;
use kube::runtime::utils::ResetTimerBackoff;
use kube::runtime::watcher::{self, ExponentialBackoff};

pub use kube::runtime::reflector::store::WriterDropped;
pub use lean_pod::LeanPod;

/// How often a waiter re-polls a store that is not ready yet.
const READY_TICK: Duration = Duration::from_millis(100);

/// Waits until `store` has received its first complete list. Safe with any number of
/// concurrent waiters on the same store. Fails only when the store's writer was dropped.
pub async fn ready<K>(store: &Store<K>) -> Result<(), WriterDropped>
where
    K: kube::Resource + Clone + 'static,
    K::DynamicType: Eq + std::hash::Hash + Clone,
{
    loop {
        // Once ready, `wait_until_ready` answers on its first poll; before that, a waiter whose
        // waker was replaced by another's is polled again by the timeout.
        if let Ok(result) = tokio::time::timeout(READY_TICK, store.wait_until_ready()).await {
            return result;
        }
    }
}

/// Watches every pod without its managedFields ([`LeanPod`]); the events carry ordinary Pods.
pub fn watch_pods(
    client: kube::Client,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<Pod>, watcher::Error>> + Send {
    watcher::watcher(kube::Api::<LeanPod>::all(client), config).map_ok(|event| match event {
        watcher::Event::Apply(p) => watcher::Event::Apply(p.into_inner()),
        watcher::Event::Delete(p) => watcher::Event::Delete(p.into_inner()),
        watcher::Event::Init => watcher::Event::Init,
        watcher::Event::InitApply(p) => watcher::Event::InitApply(p.into_inner()),
        watcher::Event::InitDone => watcher::Event::InitDone,
    })
}

/// The first delay before a node agent re-watches after an error.
const AGENT_MIN_DELAY: Duration = Duration::from_millis(250);
/// The longest delay between a node agent's attempts.
const AGENT_MAX_DELAY: Duration = Duration::from_secs(5);
/// After this long without errors the delays start again from the first.
const AGENT_RESET_AFTER: Duration = Duration::from_secs(30);

/// The watch backoff of node agents: 250 ms doubling to 5 s, with jitter, reset after 30 s
/// without errors (client-go's reflector waits up to 30 s, which keeps nodes deaf that long
/// after a control-plane restart).
pub fn agent_backoff() -> ResetTimerBackoff<ExponentialBackoff> {
    let builder = backon::ExponentialBuilder::default()
        .with_min_delay(AGENT_MIN_DELAY)
        .with_max_delay(AGENT_MAX_DELAY)
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    ResetTimerBackoff::new(ExponentialBackoff::from(builder), AGENT_RESET_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::runtime::reflector::store::Writer;
    use kube::runtime::watcher::Event;

    /// Many tasks wait on one store at once; all of them must finish once it is ready (with
    /// `Store::wait_until_ready` alone only the last one polled is woken).
    #[tokio::test]
    async fn every_concurrent_waiter_sees_the_store_ready() {
        let mut writer: Writer<ConfigMap> = Writer::default();
        let store = writer.as_reader();
        let waiters: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { ready(&store).await })
            })
            .collect();
        tokio::task::yield_now().await;
        writer.apply_watcher_event(&Event::Init);
        writer.apply_watcher_event(&Event::InitDone);
        let all = tokio::time::timeout(Duration::from_secs(5), futures::future::join_all(waiters))
            .await
            .expect("every waiter finished");
        assert!(all.into_iter().all(|r| matches!(r, Ok(Ok(())))));
    }

    #[test]
    fn agent_backoff_grows_to_its_cap() {
        let delays: Vec<Duration> = agent_backoff().take(10).collect();
        assert!(
            delays[0] >= AGENT_MIN_DELAY && delays[0] < AGENT_MIN_DELAY * 2,
            "{delays:?}"
        );
        // Jitter adds up to one more delay on top of the capped one.
        assert!(
            delays.iter().all(|d| *d <= AGENT_MAX_DELAY * 2),
            "{delays:?}"
        );
        assert!(delays[9] >= AGENT_MAX_DELAY, "{delays:?}");
    }
}
