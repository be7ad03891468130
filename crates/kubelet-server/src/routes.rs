//! The kubelet's paths and query parameters, parsed into a `Route` (no I/O).

use hyper::Method;

/// A pod as named in a path; `uid` when the path carries it (`/exec/ns/pod/uid/container`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRef {
    pub namespace: String,
    pub name: String,
    pub uid: Option<String>,
}

/// A container of a pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerRef {
    pub pod: PodRef,
    pub container: String,
}

/// `containerLogs` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogQuery {
    pub follow: bool,
    pub previous: bool,
    pub timestamps: bool,
    pub tail_lines: Option<u64>,
    pub since_seconds: Option<u64>,
    /// `sinceTime` in nanoseconds since the epoch.
    pub since_time: Option<i128>,
    pub limit_bytes: Option<u64>,
}

/// `exec` and `attach` parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecQuery {
    pub command: Vec<String>,
    pub stdin: bool,
    pub stdout: bool,
    pub stderr: bool,
    pub tty: bool,
}

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Healthz,
    Logs(ContainerRef, LogQuery),
    Exec(ContainerRef, ExecQuery),
    Attach(ContainerRef, ExecQuery),
    PortForward(PodRef, Vec<i32>),
}

/// Why a request has no route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
}

/// Parses a request's method, path and query.
pub fn route(method: &Method, path: &str, query: Option<&str>) -> Result<Route, RouteError> {
    let segments: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(percent_decode)
        .collect::<Result<_, _>>()?;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let params = Params(
        form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .into_owned()
            .collect(),
    );
    let streaming = |m: &Method| *m == Method::GET || *m == Method::POST;
    let route = match segs.as_slice() {
        ["healthz"] => Route::Healthz,
        ["containerLogs", ns, pod, container] => {
            if *method != Method::GET {
                return Err(RouteError::MethodNotAllowed);
            }
            Route::Logs(
                container_ref(ns, pod, None, container)?,
                log_query(&params)?,
            )
        }
        [verb @ ("exec" | "attach"), ns, pod, rest @ ..] => {
            if !streaming(method) {
                return Err(RouteError::MethodNotAllowed);
            }
            let target = match rest {
                [container] => container_ref(ns, pod, None, container)?,
                [uid, container] => container_ref(ns, pod, Some(uid), container)?,
                _ => return Err(RouteError::NotFound),
            };
            let query = exec_query(&params, *verb == "exec")?;
            if *verb == "exec" {
                Route::Exec(target, query)
            } else {
                Route::Attach(target, query)
            }
        }
        ["portForward", ns, pod, rest @ ..] => {
            if !streaming(method) {
                return Err(RouteError::MethodNotAllowed);
            }
            let uid = match rest {
                [] => None,
                [uid] => Some(*uid),
                _ => return Err(RouteError::NotFound),
            };
            let ports = params
                .all("port")
                .map(|p| match p.parse::<u16>() {
                    Ok(port) if port > 0 => Ok(i32::from(port)),
                    _ => Err(RouteError::BadRequest(format!("invalid port {p:?}"))),
                })
                .collect::<Result<_, _>>()?;
            Route::PortForward(pod_ref(ns, pod, uid)?, ports)
        }
        _ => return Err(RouteError::NotFound),
    };
    Ok(route)
}

fn percent_decode(s: &str) -> Result<String, RouteError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            let byte = hex.ok_or_else(|| {
                RouteError::BadRequest(format!("invalid escape in path segment {s:?}"))
            })?;
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out)
        .map_err(|_| RouteError::BadRequest(format!("path segment {s:?} is not UTF-8")))
}

fn pod_ref(ns: &str, pod: &str, uid: Option<&str>) -> Result<PodRef, RouteError> {
    for (what, value) in [("namespace", ns), ("pod name", pod)] {
        if value.is_empty() {
            return Err(RouteError::BadRequest(format!("empty {what}")));
        }
    }
    Ok(PodRef {
        namespace: ns.into(),
        name: pod.into(),
        uid: uid.filter(|u| !u.is_empty()).map(Into::into),
    })
}

fn container_ref(
    ns: &str,
    pod: &str,
    uid: Option<&str>,
    container: &str,
) -> Result<ContainerRef, RouteError> {
    if container.is_empty() {
        return Err(RouteError::BadRequest("empty container name".into()));
    }
    Ok(ContainerRef {
        pod: pod_ref(ns, pod, uid)?,
        container: container.into(),
    })
}

/// Query parameters in order, repeated keys kept.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Go's `strconv.ParseBool`, with a bare key (`?follow`) meaning true.
    fn flag(&self, key: &str) -> Result<bool, RouteError> {
        match self.get(key) {
            None => Ok(false),
            Some("" | "1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
            Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
            Some(other) => Err(RouteError::BadRequest(format!(
                "invalid value {other:?} for {key}: want true or false"
            ))),
        }
    }

    fn number(&self, key: &str) -> Result<Option<u64>, RouteError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    RouteError::BadRequest(format!(
                        "invalid value {v:?} for {key}: want a non-negative integer"
                    ))
                }),
        }
    }
}

fn log_query(params: &Params) -> Result<LogQuery, RouteError> {
    let since_time = match params.get("sinceTime") {
        None | Some("") => None,
        Some(t) => Some(crate::logs::parse::parse_time(t).ok_or_else(|| {
            RouteError::BadRequest(format!("invalid sinceTime {t:?}: want RFC 3339"))
        })?),
    };
    let query = LogQuery {
        follow: params.flag("follow")?,
        previous: params.flag("previous")?,
        timestamps: params.flag("timestamps")?,
        tail_lines: params.number("tailLines")?,
        since_seconds: params.number("sinceSeconds")?,
        since_time,
        limit_bytes: params.number("limitBytes")?,
    };
    if query.since_seconds.is_some() && query.since_time.is_some() {
        return Err(RouteError::BadRequest(
            "at most one of sinceTime or sinceSeconds may be specified".into(),
        ));
    }
    if query.since_seconds == Some(0) {
        return Err(RouteError::BadRequest(
            "sinceSeconds must be greater than 0".into(),
        ));
    }
    if query.limit_bytes == Some(0) {
        return Err(RouteError::BadRequest(
            "limitBytes must be greater than 0".into(),
        ));
    }
    Ok(query)
}

fn exec_query(params: &Params, exec: bool) -> Result<ExecQuery, RouteError> {
    // Old clients spell the streams `input`, `output` and `error`.
    let either = |new: &str, old: &str| -> Result<bool, RouteError> {
        Ok(params.flag(new)? || params.flag(old)?)
    };
    let mut query = ExecQuery {
        command: params.all("command").map(String::from).collect(),
        stdin: either("stdin", "input")?,
        stdout: either("stdout", "output")?,
        stderr: either("stderr", "error")?,
        tty: params.flag("tty")?,
    };
    if exec && query.command.is_empty() {
        return Err(RouteError::BadRequest("you must specify a command".into()));
    }
    if !query.stdin && !query.stdout && !query.stderr {
        return Err(RouteError::BadRequest(
            "you must specify at least 1 of stdin, stdout, stderr".into(),
        ));
    }
    if query.tty {
        // A terminal merges stderr into stdout.
        query.stderr = false;
    }
    Ok(query)
}

#[cfg(test)]
#[path = "routes_tests.rs"]
mod tests;
