//! One task per pod on this node: it syncs the runtime towards the pod spec (sandbox, init
//! containers, containers, restarts with back-off, probes, hooks), reports the pod's status,
//! terminates the pod gracefully when it is deleted, and tears everything down when the pod is
//! gone from the API. Level-triggered: each sync reads the runtime afresh.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, DeleteParams, Patch, PatchParams, Preconditions};
use serde_json::json;
use tokio::sync::{mpsc, watch};

use crate::backoff::Backoff;
use crate::probes::{self, Kind, Outcome, Probes};
use crate::runtime::{self, RuntimeContainer, RuntimePod, State};
use crate::status::{self, Observed};
use crate::{Context, KubeletError, actions, lifecycle};

/// How often a quiet pod is synced anyway (probes, back-off expiry, containers that died).
const RESYNC: Duration = Duration::from_secs(1);
/// How old a service account token may get before the kubelet asks for a new one.
const SA_TOKEN_REFRESH: Duration = Duration::from_secs(40 * 60);
/// How often volumes are refreshed (ConfigMap and Secret changes reach mounted files).
const VOLUME_REFRESH: Duration = Duration::from_secs(10);

pub(crate) struct PodWorker {
    pub(crate) ctx: Arc<Context>,
    pub(crate) uid: String,
    pub(crate) backoff: Backoff,
    pub(crate) obs: Observed,
    probes: Probes,
    cache: HashMap<String, RuntimeContainer>,
    last_status: Option<serde_json::Value>,
    volumes_at: Option<Instant>,
    pub(crate) volumes: Option<gantry_podconfig::PreparedVolumes>,
    /// The pod's service account token and when it was fetched (refreshed well before expiry).
    sa_token: Option<(String, Instant)>,
    /// Running containers: id -> (name, when it started on our monotonic clock).
    running: HashMap<String, (String, Instant)>,
    probe_tx: mpsc::Sender<Outcome>,
}

/// Runs the worker of pod `uid` until the pod is gone and cleaned up.
pub async fn run(ctx: Arc<Context>, uid: String, mut pod_rx: watch::Receiver<Option<Arc<Pod>>>) {
    let (probe_tx, mut probe_rx) = mpsc::channel(64);
    let mut w = PodWorker {
        ctx,
        uid,
        backoff: Backoff::default(),
        obs: Observed::default(),
        probes: Probes::default(),
        cache: HashMap::new(),
        last_status: None,
        volumes_at: None,
        volumes: None,
        running: HashMap::new(),
        sa_token: None,
        probe_tx,
    };
    loop {
        let pod = pod_rx.borrow_and_update().clone();
        let Some(pod) = pod else {
            w.teardown().await;
            return;
        };
        let result = if pod.metadata.deletion_timestamp.is_some() {
            w.terminate(&pod).await
        } else {
            w.sync(&pod).await
        };
        if let Err(err) = result {
            tracing::warn!(pod = %name(&pod), %err, "pod sync failed");
        }
        tokio::select! {
            changed = pod_rx.changed() => if changed.is_err() { w.teardown().await; return; },
            Some(outcome) = probe_rx.recv() => w.record_probe(&pod, outcome),
            _ = tokio::time::sleep(RESYNC) => {}
        }
    }
}

pub(crate) fn name(pod: &Pod) -> String {
    format!(
        "{}/{}",
        pod.metadata.namespace.as_deref().unwrap_or_default(),
        pod.metadata.name.as_deref().unwrap_or_default()
    )
}

pub(crate) fn find<'a>(pod: &'a Pod, name: &str, init: bool) -> Option<&'a Container> {
    let spec = pod.spec.as_ref()?;
    if init {
        spec.init_containers
            .as_ref()?
            .iter()
            .find(|c| c.name == name)
    } else {
        spec.containers.iter().find(|c| c.name == name)
    }
}

impl PodWorker {
    pub(crate) fn pod_dir(&self) -> PathBuf {
        self.ctx.cfg.root_dir.join("pods").join(&self.uid)
    }

    pub(crate) fn info(&self, pod: &Pod, rt: &RuntimePod) -> gantry_podconfig::PodRuntimeInfo {
        let host_net = pod
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false);
        gantry_podconfig::PodRuntimeInfo {
            node_name: self.ctx.cfg.node_name.clone(),
            host_ip: self.ctx.cfg.node_ip.clone(),
            pod_ips: if host_net {
                vec![self.ctx.cfg.node_ip.clone()]
            } else {
                rt.sandbox().map(|s| s.ips.clone()).unwrap_or_default()
            },
            service_account_token: self.sa_token.as_ref().map(|(t, _)| t.clone()),
        }
    }

    fn record_probe(&mut self, pod: &Pod, o: Outcome) {
        let spec = self
            .running
            .get(&o.container_id)
            .and_then(|(n, _)| find(pod, n, false))
            .and_then(|c| probes::probe_of(c, o.kind).cloned());
        if !o.ok {
            tracing::info!(pod = %name(pod), kind = ?o.kind, message = %o.message, "probe failed");
        }
        self.probes.record(&o, spec.as_ref());
    }

    /// Reads the runtime's view of the pod, with OOM kills the kernel saw filled in.
    async fn inspect(&mut self) -> Result<RuntimePod, KubeletError> {
        let mut rt = runtime::inspect(&self.ctx.cri, &self.uid, &mut self.cache).await?;
        for c in rt
            .containers
            .iter_mut()
            .filter(|c| c.state == State::Exited && c.reason != "OOMKilled")
        {
            if self.ctx.oom.killed(&c.id) {
                c.reason = "OOMKilled".into();
            }
        }
        Ok(rt)
    }

    async fn sync(&mut self, pod: &Pod) -> Result<(), KubeletError> {
        let now = Instant::now();
        let mut rt = self.inspect().await?;
        self.track(&rt, now);
        let unhealthy: HashSet<String> = rt
            .running()
            .filter(|c| self.probes.unhealthy(&c.id))
            .map(|c| c.id.clone())
            .collect();
        let a = actions::compute(pod, &rt, &self.backoff, &unhealthy, now);
        self.obs.backing_off.clear();
        for (n, _) in &a.waiting {
            let delay = self.backoff.delay(n).as_secs();
            let msg = format!(
                "back-off {delay}s restarting failed container={n} pod={}_{}({})",
                pod.metadata.name.as_deref().unwrap_or_default(),
                pod.metadata.namespace.as_deref().unwrap_or_default(),
                self.uid
            );
            self.obs.backing_off.insert(n.clone(), msg);
        }
        let changed = lifecycle::execute(self, pod, &rt, &a, now).await?;
        if changed {
            rt = self.inspect().await?;
            self.track(&rt, now);
        } else if self
            .volumes_at
            .is_none_or(|t| now.duration_since(t) > VOLUME_REFRESH)
            && rt.sandbox().is_some_and(|s| s.ready)
        {
            self.refresh_volumes(pod, &rt).await;
        }
        self.run_probes(pod, &rt, now);
        self.report(pod, &rt).await
    }

    /// Prepares (or refreshes) the pod's volumes; errors are kept for the status.
    pub(crate) async fn refresh_volumes(&mut self, pod: &Pod, rt: &RuntimePod) -> bool {
        self.volumes_at = Some(Instant::now());
        // Tokens live 3607 s; fetch a new one after 40 minutes, as upstream refreshes at 80%.
        if self
            .sa_token
            .as_ref()
            .is_none_or(|(_, at)| at.elapsed() > SA_TOKEN_REFRESH)
        {
            match crate::sa_token::token_for(&self.ctx.client, pod).await {
                Ok(token) => self.sa_token = token.map(|t| (t, Instant::now())),
                Err(err) => {
                    tracing::warn!(pod = %name(pod), %err, "requesting the service account token failed")
                }
            }
        }
        let info = self.info(pod, rt);
        match gantry_podconfig::prepare_volumes_with_allocatable(
            &self.ctx.client,
            pod,
            &self.pod_dir(),
            &info,
            &self.ctx.allocatable,
        )
        .await
        {
            Ok(v) => {
                self.volumes = Some(v);
                true
            }
            Err(err) => {
                tracing::warn!(pod = %name(pod), %err, "preparing volumes failed");
                false
            }
        }
    }

    fn track(&mut self, rt: &RuntimePod, now: Instant) {
        let live: Vec<String> = rt
            .containers
            .iter()
            .filter(|c| c.state == State::Running)
            .map(|c| c.id.clone())
            .collect();
        self.running.retain(|id, _| live.contains(id));
        let wall = Timestamp::now().as_nanosecond() as i64;
        for c in rt.containers.iter().filter(|c| c.state == State::Running) {
            let age = Duration::from_nanos(u64::try_from(wall - c.started_at).unwrap_or(0));
            self.running
                .entry(c.id.clone())
                .or_insert_with(|| (c.name.clone(), now.checked_sub(age).unwrap_or(now)));
        }
        self.probes.retain(&live);
    }

    fn run_probes(&mut self, pod: &Pod, rt: &RuntimePod, now: Instant) {
        self.obs.has_readiness.clear();
        self.obs.ready.clear();
        self.obs.not_started.clear();
        let pod_ip = rt
            .sandbox()
            .and_then(|s| s.ips.first().cloned())
            .unwrap_or_else(|| self.ctx.cfg.node_ip.clone());
        for (id, (cname, started)) in self.running.clone() {
            let Some(c) = find(pod, &cname, false) else {
                continue;
            };
            if c.readiness_probe.is_some() {
                self.obs.has_readiness.insert(id.clone());
                if self.probes.passed(&id, Kind::Readiness) == Some(true) {
                    self.obs.ready.insert(id.clone());
                }
            }
            if c.startup_probe.is_some() && self.probes.passed(&id, Kind::Startup) != Some(true) {
                self.obs.not_started.insert(id.clone());
            }
            for (kind, probe) in self.probes.due(&id, c, started, now) {
                let (cri, c, id, ip, tx) = (
                    self.ctx.cri.clone(),
                    c.clone(),
                    id.clone(),
                    pod_ip.clone(),
                    self.probe_tx.clone(),
                );
                tokio::spawn(async move {
                    let (ok, message) = probes::run(cri, probe, c, id.clone(), ip).await;
                    let _ = tx
                        .send(Outcome {
                            container_id: id,
                            kind,
                            ok,
                            message,
                        })
                        .await;
                });
            }
        }
    }

    /// Posts the pod's status when it changed.
    pub(crate) async fn report(&mut self, pod: &Pod, rt: &RuntimePod) -> Result<(), KubeletError> {
        let st = status::pod_status(pod, rt, &self.obs, &self.ctx.cfg.node_ip, Timestamp::now());
        let value = serde_json::to_value(&st).map_err(|e| KubeletError::Invalid(e.to_string()))?;
        if self.last_status.as_ref() == Some(&value) {
            return Ok(());
        }
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
        let patch = json!({"metadata": {"uid": self.uid}, "status": value});
        let pod_name = pod.metadata.name.clone().unwrap_or_default();
        api.patch_status(&pod_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        self.last_status = Some(value);
        Ok(())
    }

    /// A deleted pod: stop its containers within the grace period, report, then remove the
    /// object (grace 0, UID precondition) so the API forgets it.
    async fn terminate(&mut self, pod: &Pod) -> Result<(), KubeletError> {
        let grace = pod
            .metadata
            .deletion_grace_period_seconds
            .unwrap_or(30)
            .max(0) as u64;
        let rt = self.inspect().await?;
        lifecycle::stop_all(self, pod, &rt, Duration::from_secs(grace)).await;
        let rt = self.inspect().await?;
        if rt.running().next().is_none() {
            let _ = self.report(pod, &rt).await;
            let ns = pod.metadata.namespace.clone().unwrap_or_default();
            let api: Api<Pod> = Api::namespaced(self.ctx.client.clone(), &ns);
            let dp = DeleteParams {
                grace_period_seconds: Some(0),
                preconditions: Some(Preconditions {
                    uid: Some(self.uid.clone()),
                    resource_version: None,
                }),
                ..Default::default()
            };
            match api
                .delete(pod.metadata.name.as_deref().unwrap_or_default(), &dp)
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(e)) if e.code == 404 || e.code == 409 => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// The pod is gone from the API: remove its containers, sandboxes, cgroup, volumes and logs.
    async fn teardown(&mut self) {
        lifecycle::remove_all(&self.ctx, &self.uid).await;
        if let Err(err) = gantry_podconfig::cleanup_pod(&self.pod_dir()).await {
            tracing::warn!(uid = %self.uid, %err, "cleaning up pod volumes failed");
        }
        let _ = tokio::fs::remove_dir_all(self.pod_dir()).await;
    }
}
