//! The runtime side of a pod's lifecycle: create the sandbox (with its cgroup and volumes),
//! start containers (image, env, mounts, postStart hook), kill containers (preStop hook, grace
//! period), stop a finished pod, and remove everything of a pod that is gone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use gantry_cri::api;
use k8s_openapi::api::core::v1::{Container, LifecycleHandler, Pod};

use crate::actions::{Actions, Start};
use crate::container::{ContainerInput, container_config};
use crate::runtime::{RuntimePod, State};
use crate::worker::{PodWorker, find, name};
use crate::{Context, KubeletError, cgroup, images, labels, probes, sandbox, status};

/// Carries out `a`; returns whether the runtime changed.
pub(crate) async fn execute(
    w: &mut PodWorker,
    pod: &Pod,
    rt: &RuntimePod,
    a: &Actions,
    now: Instant,
) -> Result<bool, KubeletError> {
    let mut changed = false;
    let grace = Duration::from_secs(
        pod.spec
            .as_ref()
            .and_then(|s| s.termination_grace_period_seconds)
            .unwrap_or(30)
            .max(0) as u64,
    );
    if a.kill_pod {
        stop_all(w, pod, rt, grace).await;
        changed = true;
    }
    for k in &a.kill {
        tracing::info!(pod = %name(pod), container = %k.name, reason = %k.reason, "killing container");
        let c = find(pod, &k.name, false).cloned();
        stop_container(w, pod, c.as_ref(), &k.id, grace, rt).await;
        changed = true;
    }
    let mut sandbox_id = rt.sandbox().filter(|s| s.ready).map(|s| s.id.clone());
    let mut pod_ips = rt.sandbox().map(|s| s.ips.clone()).unwrap_or_default();
    if let Some(attempt) = a.create_sandbox {
        let (id, ips) = create_sandbox(w, pod, rt, attempt).await?;
        sandbox_id = Some(id);
        pod_ips = ips;
        changed = true;
    }
    let Some(sandbox_id) = sandbox_id else {
        return Ok(changed);
    };
    if !a.start.is_empty() && w.volumes.is_none() && !w.refresh_volumes(pod, rt).await {
        return Ok(changed);
    }
    for s in &a.start {
        if s.restart {
            w.backoff.record(&s.name, now);
        }
        match start_container(
            w,
            pod,
            &sandbox_id,
            &pod_ips,
            s,
            attempt_config(w, pod, rt, &pod_ips),
        )
        .await
        {
            Ok(()) => {
                w.obs.errors.remove(&s.name);
                changed = true;
            }
            Err((reason, message)) => {
                tracing::warn!(pod = %name(pod), container = %s.name, %reason, %message, "starting container failed");
                w.obs.errors.insert(s.name.clone(), (reason, message));
                if s.init {
                    break;
                }
            }
        }
    }
    Ok(changed)
}

fn attempt_config(
    w: &PodWorker,
    pod: &Pod,
    rt: &RuntimePod,
    ips: &[String],
) -> gantry_podconfig::PodRuntimeInfo {
    let mut info = w.info(pod, rt);
    if !ips.is_empty() {
        info.pod_ips = ips.to_vec();
    }
    info
}

async fn create_sandbox(
    w: &mut PodWorker,
    pod: &Pod,
    rt: &RuntimePod,
    attempt: u32,
) -> Result<(String, Vec<String>), KubeletError> {
    let ctx = &w.ctx;
    let qos = status::qos_class(pod);
    let cg = cgroup::pod_cgroup(&ctx.cfg.cgroup_root, qos, &w.uid);
    let (mem, shares) = cgroup::pod_resources(pod);
    cgroup::create(&cg, mem, Some(shares))?;
    let mut config = sandbox::sandbox_config(pod, attempt, &cg, &ctx.settings);
    config
        .labels
        .insert(labels::NODE.into(), ctx.cfg.node_name.clone());
    tokio::fs::create_dir_all(&config.log_directory)
        .await
        .map_err(|source| KubeletError::Io {
            what: "create the pod log directory",
            source,
        })?;
    let mut runtime = ctx.cri.runtime.clone();
    let id = runtime
        .run_pod_sandbox(api::RunPodSandboxRequest {
            config: Some(config),
            runtime_handler: String::new(),
        })
        .await?
        .into_inner()
        .pod_sandbox_id;
    let st = runtime
        .pod_sandbox_status(api::PodSandboxStatusRequest {
            pod_sandbox_id: id.clone(),
            verbose: false,
        })
        .await?
        .into_inner();
    let mut ips = vec![];
    if let Some(net) = st.status.and_then(|s| s.network) {
        if !net.ip.is_empty() {
            ips.push(net.ip);
        }
        ips.extend(net.additional_ips.into_iter().map(|i| i.ip));
    }
    tracing::info!(pod = %name(pod), sandbox = %id, ip = ?ips.first(), "sandbox running");
    // Volumes that depend on the pod's IP (downward API) are prepared once it has one.
    let _ = rt;
    w.volumes = None;
    Ok((id, ips))
}

async fn start_container(
    w: &mut PodWorker,
    pod: &Pod,
    sandbox_id: &str,
    pod_ips: &[String],
    s: &Start,
    info: gantry_podconfig::PodRuntimeInfo,
) -> Result<(), (String, String)> {
    let ctx = w.ctx.clone();
    let Some(c) = find(pod, &s.name, s.init) else {
        return Err((
            "CreateContainerConfigError".into(),
            format!("container {} not in spec", s.name),
        ));
    };
    let image_key = format!("image:{}", c.image.as_deref().unwrap_or_default());
    if let Some(wait) = w.backoff.remaining(&image_key, Instant::now()) {
        let msg = format!(
            "Back-off pulling image \"{}\" ({}s)",
            c.image.as_deref().unwrap_or_default(),
            wait.as_secs()
        );
        return Err(("ImagePullBackOff".into(), msg));
    }
    if let Err(e) = images::ensure(&ctx.cri, &ctx.client, pod, c).await {
        w.backoff.record(&image_key, Instant::now());
        return Err((e.reason.into(), e.message));
    }
    w.backoff.forget(&image_key);
    let env = gantry_podconfig::container_env(&ctx.client, pod, c, &info, &ctx.allocatable)
        .await
        .map_err(|e| ("CreateContainerConfigError".to_string(), e.to_string()))?;
    let mounts = match &w.volumes {
        Some(v) => gantry_podconfig::container_mounts_with_env(pod, c, v, &env)
            .map_err(|e| ("CreateContainerConfigError".to_string(), e.to_string()))?,
        None => vec![],
    };
    let term_dir = w.pod_dir().join("containers").join(&c.name);
    let term_file = term_dir.join(format!("{}", s.attempt));
    let termination_log =
        match std::fs::create_dir_all(&term_dir).and_then(|_| std::fs::write(&term_file, b"")) {
            Ok(()) => Some(term_file.display().to_string()),
            Err(_) => None,
        };
    let config = container_config(ContainerInput {
        pod,
        container: c,
        attempt: s.attempt,
        init: s.init,
        env,
        mounts,
        termination_log,
    });
    let sandbox_config = sandbox::sandbox_config(pod, 0, "", &ctx.settings);
    let mut runtime = ctx.cri.runtime.clone();
    let id = runtime
        .create_container(api::CreateContainerRequest {
            pod_sandbox_id: sandbox_id.into(),
            config: Some(config),
            sandbox_config: Some(sandbox_config),
        })
        .await
        .map_err(|e| ("CreateContainerError".to_string(), e.message().to_string()))?
        .into_inner()
        .container_id;
    runtime
        .start_container(api::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .map_err(|e| ("RunContainerError".to_string(), e.message().to_string()))?;
    let _ = pod_ips;
    if let Some(hook) = c.lifecycle.as_ref().and_then(|l| l.post_start.as_ref()) {
        if let Err(msg) = run_hook(
            &ctx,
            hook,
            c,
            &id,
            pod_ips.first().cloned().unwrap_or_default(),
        )
        .await
        {
            tracing::warn!(pod = %name(pod), container = %c.name, %msg, "postStart hook failed; killing the container");
            let _ = runtime
                .stop_container(api::StopContainerRequest {
                    container_id: id,
                    timeout: 2,
                })
                .await;
            return Err(("PostStartHookError".into(), msg));
        }
    }
    tracing::info!(pod = %name(pod), container = %c.name, attempt = s.attempt, "container started");
    Ok(())
}

/// Runs a lifecycle hook (exec or httpGet) against a container.
async fn run_hook(
    ctx: &Context,
    hook: &LifecycleHandler,
    c: &Container,
    id: &str,
    pod_ip: String,
) -> Result<(), String> {
    if let Some(sleep) = &hook.sleep {
        tokio::time::sleep(Duration::from_secs(sleep.seconds.max(0) as u64)).await;
        return Ok(());
    }
    let probe = k8s_openapi::api::core::v1::Probe {
        exec: hook.exec.clone(),
        http_get: hook.http_get.clone(),
        tcp_socket: hook.tcp_socket.clone(),
        timeout_seconds: Some(30),
        ..Default::default()
    };
    let (ok, message) =
        probes::run(ctx.cri.clone(), probe, c.clone(), id.to_string(), pod_ip).await;
    if ok { Ok(()) } else { Err(message) }
}

async fn stop_container(
    w: &PodWorker,
    pod: &Pod,
    c: Option<&Container>,
    id: &str,
    grace: Duration,
    rt: &RuntimePod,
) {
    let ctx = &w.ctx;
    let started = Instant::now();
    if let Some(hook) = c
        .and_then(|c| c.lifecycle.as_ref())
        .and_then(|l| l.pre_stop.as_ref())
    {
        let pod_ip = rt
            .sandbox()
            .and_then(|s| s.ips.first().cloned())
            .unwrap_or_default();
        if let Some(c) = c {
            let _ = tokio::time::timeout(grace, run_hook(ctx, hook, c, id, pod_ip)).await;
        }
    }
    let left = grace
        .saturating_sub(started.elapsed())
        .as_secs()
        .max(if grace.is_zero() { 0 } else { 1 });
    let req = api::StopContainerRequest {
        container_id: id.into(),
        timeout: left as i64,
    };
    let deadline = Duration::from_secs(left + 10);
    if let Err(err) =
        tokio::time::timeout(deadline, ctx.cri.runtime.clone().stop_container(req)).await
    {
        tracing::warn!(pod = %name(pod), %err, "stopping container timed out");
    }
}

/// Stops every container (concurrently, each within `grace`) and every sandbox of the pod.
pub(crate) async fn stop_all(w: &PodWorker, pod: &Pod, rt: &RuntimePod, grace: Duration) {
    let running: Vec<_> = rt
        .containers
        .iter()
        .filter(|c| c.state != State::Exited)
        .collect();
    let stops = running.iter().map(|rc| {
        let c = find(pod, &rc.name, rc.init).cloned();
        async move { stop_container(w, pod, c.as_ref(), &rc.id, grace, rt).await }
    });
    futures::future::join_all(stops).await;
    for s in rt.sandboxes.iter().filter(|s| s.ready) {
        let _ = w
            .ctx
            .cri
            .runtime
            .clone()
            .stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            })
            .await;
    }
}

/// Removes every container and sandbox labelled with pod `uid`, and its cgroup and logs.
pub(crate) async fn remove_all(ctx: &Context, uid: &str) {
    let mut cache = HashMap::new();
    let Ok(rt) = crate::runtime::inspect(&ctx.cri, uid, &mut cache).await else {
        return;
    };
    let mut runtime = ctx.cri.runtime.clone();
    for c in &rt.containers {
        if c.state != State::Exited {
            let _ = runtime
                .stop_container(api::StopContainerRequest {
                    container_id: c.id.clone(),
                    timeout: 0,
                })
                .await;
        }
        let _ = runtime
            .remove_container(api::RemoveContainerRequest {
                container_id: c.id.clone(),
            })
            .await;
    }
    for s in &rt.sandboxes {
        let _ = runtime
            .stop_pod_sandbox(api::StopPodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            })
            .await;
        let _ = runtime
            .remove_pod_sandbox(api::RemovePodSandboxRequest {
                pod_sandbox_id: s.id.clone(),
            })
            .await;
    }
    for qos in ["Guaranteed", "Burstable", "BestEffort"] {
        if let Err(err) = cgroup::remove(&cgroup::pod_cgroup(&ctx.cfg.cgroup_root, qos, uid)) {
            tracing::warn!(%uid, %err, "removing the pod cgroup failed");
        }
    }
    if let Ok(mut dirs) = tokio::fs::read_dir(&ctx.settings.log_root).await {
        while let Ok(Some(d)) = dirs.next_entry().await {
            if d.file_name()
                .to_string_lossy()
                .ends_with(&format!("_{uid}"))
            {
                let _ = tokio::fs::remove_dir_all(d.path()).await;
            }
        }
    }
}
