//! The benchmark plan: start the server, run every scenario in order against it, record each
//! figure in the report, and always stop the server with SIGTERM, even after a failure.

use std::time::Instant;

use anyhow::Context;
use bytes::Bytes;
use hyper::{Method, StatusCode};

use crate::Args;
use crate::create::{self, pod_name};
use crate::latency::{Latencies, ms};
use crate::machine::{self, cpus};
use crate::report::{Report, Target, number};
use crate::server::Server;
use crate::{get, list, watch};

const NAMESPACE: &str = "bench";
const TARGET_CREATES: f64 = 3000.0;
const TARGET_WATCH_P99_MS: f64 = 10.0;
const TARGET_IDLE_RSS_MB: f64 = 40.0;
const TARGET_READY_MS: f64 = 300.0;
const FSYNC_PROBES: usize = 200;

/// Runs the whole benchmark; the report is printed as it grows and written to `--out`.
pub async fn run(args: &Args, command: String) -> anyhow::Result<Report> {
    let (mut report, gantry) = Report::begin(command, &args.gantry)?;
    report.context(format!(
        "server: `{} server` on 127.0.0.1, fresh temporary data dir, durable (fsynced) writes",
        gantry.display()
    ));
    report.context(format!(
        "machine: {} CPU(s), shared by the server and this client (client CPU is reported beside each figure)",
        cpus()
    ));
    report.context(format!("clients: {}", args.protocol_description()));

    // The API scenario measures the API server alone: no scheduler or controllers reacting to
    // the 10,000 pods it creates.
    let server = Server::start(
        &gantry,
        args.protocol,
        args.h2_connections,
        &["--disable-scheduler", "--disable-controller-manager"],
    )
    .await?;
    let idle_rss = server.memory_kib("VmRSS");
    let logged = server.logged_ready_ms().await;
    let ready_ms = server.ready_wall.as_secs_f64() * 1e3;
    let logged_text = logged.map_or("not found in the log".to_string(), |m| format!("{m} ms"));
    report.check(
        "time to ready (spawn to first /readyz 200 over TLS)",
        ready_ms,
        "ms",
        Target::AtMost(TARGET_READY_MS),
        format!("server's own log: ready in {logged_text}"),
    );
    match &idle_rss {
        Ok(kib) => report.check(
            "server RSS, idle right after ready",
            mib(*kib),
            "MiB",
            Target::AtMost(TARGET_IDLE_RSS_MB),
            format!("VmRSS {kib} kB"),
        ),
        Err(e) => report.missing(
            "server RSS, idle right after ready",
            Target::AtMost(TARGET_IDLE_RSS_MB),
            "MiB",
            format!("{e:#}"),
        ),
    }
    let fs = machine::filesystem(&server.data_dir()).unwrap_or_else(|| "unknown filesystem".into());
    match machine::fsync_latency(&server.data_dir(), FSYNC_PROBES) {
        Ok(mut lat) => report.row(
            "disk: 4 KiB write + fdatasync in the data dir",
            format!("{} ms p50", ms(lat.percentile(50.0))),
            format!("{fs}; {FSYNC_PROBES} probes; {}", lat.summary()),
        ),
        Err(e) => report.row(
            "disk: 4 KiB write + fdatasync in the data dir",
            "n/a",
            format!("{e:#}"),
        ),
    }

    let outcome = scenarios(args, &server, &mut report).await;
    if let Ok(hwm) = server.memory_kib("VmHWM") {
        report.row(
            "server peak RSS over the whole run",
            format!("{} MiB", number(mib(hwm))),
            format!("VmHWM {hwm} kB"),
        );
    }
    let stopped = server.stop().await;
    outcome?;
    match stopped {
        Ok((status, took)) => report.row(
            "shutdown after SIGTERM",
            format!("{} ms", ms(took)),
            format!("exit: {status}"),
        ),
        Err(e) => report.row("shutdown after SIGTERM", "failed", format!("{e:#}")),
    }

    report.note("Latencies are measured by the client, which shares the CPUs with the server: the client CPU beside each figure is time the server could not use.");
    report.note("Watch delivery: from just before the write request is sent (stamped into an annotation) to the arrival of the chunk holding the event at each watcher.");
    let markdown = report.markdown();
    println!("\n{markdown}");
    if let Some(out) = &args.out {
        std::fs::write(out, &markdown).with_context(|| format!("writing {}", out.display()))?;
        println!("written to {}", out.display());
    }
    Ok(report)
}

async fn scenarios(args: &Args, server: &Server, report: &mut Report) -> anyhow::Result<()> {
    let connector = &server.connector;
    let pid = server.pid();
    let epoch = Instant::now();
    let namespace =
        format!(r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NAMESPACE}"}}}}"#);
    let mut admin = connector.connect().await?;
    admin
        .expect(
            StatusCode::CREATED,
            Method::POST,
            "/api/v1/namespaces",
            Some(("application/json", Bytes::from(namespace))),
        )
        .await?;

    let creates_64 = args
        .pods
        .checked_sub(args.creates_1 + args.creates_16)
        .context("--pods must exceed --creates-1 + --creates-16")?;
    let runs = [
        (1, args.creates_1, "c1"),
        (16, args.creates_16, "c16"),
        (64, creates_64, "c64"),
    ];
    let mut names = Vec::with_capacity(args.pods);
    for (clients, count, prefix) in runs {
        let mut result =
            create::run(connector, NAMESPACE, prefix, clients, count, epoch, pid).await?;
        names.extend((0..count).map(|i| pod_name(prefix, i)));
        let metric = format!("pod creates/s, {clients} client(s)");
        let detail = format!("{}; {}", connector.layout(clients), result.describe());
        if clients == 64 {
            report.check(
                &metric,
                result.rate(),
                "/s",
                Target::AtLeast(TARGET_CREATES),
                detail,
            );
        } else {
            report.row(&metric, format!("{} /s", number(result.rate())), detail);
        }
        anyhow::ensure!(result.failed == 0, "{metric}: {} failed", result.failed);
    }
    match server.memory_kib("VmRSS") {
        Ok(kib) => report.row(
            &format!("server RSS with {} pods stored", args.pods),
            format!("{} MiB", number(mib(kib))),
            format!("VmRSS {kib} kB"),
        ),
        Err(e) => report.row(
            &format!("server RSS with {} pods stored", args.pods),
            "n/a",
            format!("{e:#}"),
        ),
    }

    let mut gets = get::run(connector, NAMESPACE, names, 64, args.gets, pid).await?;
    report.row(
        "pod gets/s, 64 clients",
        format!("{} /s", number(gets.rate())),
        format!("{}; {}", connector.layout(64), gets.describe()),
    );

    let mut full = list::run(connector, NAMESPACE, 0, args.list_repeats, args.pods, pid).await?;
    let detail = full.describe(args.list_repeats);
    report.row(
        &format!("full list of {} pods, p50 / p99", args.pods),
        p50_p99(&mut full.latencies),
        detail,
    );
    let mut paged = list::run(
        connector,
        NAMESPACE,
        args.page_size,
        args.list_repeats,
        args.pods,
        pid,
    )
    .await?;
    let detail = paged.describe(args.list_repeats);
    report.row(
        &format!(
            "paginated list (limit={}) of {} pods, p50 / p99",
            args.page_size, args.pods
        ),
        p50_p99(&mut paged.latencies),
        detail,
    );

    let mut w = watch::run(
        connector,
        NAMESPACE,
        "w",
        args.watchers,
        args.watch_writes,
        epoch,
        pid,
    )
    .await?;
    let p99 = w.delivery.percentile(99.0).as_secs_f64() * 1e3;
    let detail = format!("{}; {}", connector.layout(args.watchers), w.describe());
    report.check(
        &format!("watch delivery p99, {} watchers", args.watchers),
        p99,
        "ms",
        Target::AtMost(TARGET_WATCH_P99_MS),
        detail,
    );
    if w.delivered < w.expected {
        report.check(
            "watch events lost",
            (w.expected - w.delivered) as f64,
            "events",
            Target::AtMost(0.0),
            "not received within 30 s of the last write",
        );
    }
    Ok(())
}

fn p50_p99(lat: &mut Latencies) -> String {
    format!(
        "{} / {} ms",
        ms(lat.percentile(50.0)),
        ms(lat.percentile(99.0))
    )
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

impl Args {
    fn protocol_description(&self) -> String {
        match self.protocol {
            crate::client::Protocol::H1 => {
                "HTTP/1.1 over TLS 1.3, one connection per client and per watcher".into()
            }
            crate::client::Protocol::H2 => format!(
                "HTTP/2 over TLS 1.3, concurrent clients as streams over {} connection(s)",
                self.h2_connections
            ),
        }
    }
}
