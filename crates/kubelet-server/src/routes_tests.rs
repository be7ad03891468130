//! Table tests for the kubelet's paths and query parameters.

use super::*;

fn pod(uid: Option<&str>) -> PodRef {
    PodRef {
        namespace: "ns".into(),
        name: "p".into(),
        uid: uid.map(Into::into),
    }
}

fn ctr(uid: Option<&str>) -> ContainerRef {
    ContainerRef {
        pod: pod(uid),
        container: "c".into(),
    }
}

fn bad(msg: &str) -> Result<Route, RouteError> {
    Err(RouteError::BadRequest(msg.into()))
}

#[test]
fn routes() {
    let get = Method::GET;
    let post = Method::POST;
    let t0 = 1_714_557_600_000_000_000i128;
    type Case<'a> = (Method, &'a str, Option<&'a str>, Result<Route, RouteError>);
    let cases: Vec<Case> = vec![
        (get.clone(), "/healthz", None, Ok(Route::Healthz)),
        (get.clone(), "/nope", None, Err(RouteError::NotFound)),
        (
            get.clone(),
            "/containerLogs/ns/p",
            None,
            Err(RouteError::NotFound),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            None,
            Ok(Route::Logs(ctr(None), LogQuery::default())),
        ),
        (
            post.clone(),
            "/containerLogs/ns/p/c",
            None,
            Err(RouteError::MethodNotAllowed),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            Some("follow&tailLines=5&timestamps=true&previous=1&limitBytes=100&sinceSeconds=10"),
            Ok(Route::Logs(
                ctr(None),
                LogQuery {
                    follow: true,
                    previous: true,
                    timestamps: true,
                    tail_lines: Some(5),
                    since_seconds: Some(10),
                    since_time: None,
                    limit_bytes: Some(100),
                },
            )),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            Some("sinceTime=2024-05-01T10%3A00%3A00Z&follow=false"),
            Ok(Route::Logs(
                ctr(None),
                LogQuery {
                    since_time: Some(t0),
                    ..LogQuery::default()
                },
            )),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            Some("tailLines=-1"),
            bad("invalid value \"-1\" for tailLines: want a non-negative integer"),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            Some("follow=yes"),
            bad("invalid value \"yes\" for follow: want true or false"),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            Some("sinceTime=yesterday"),
            bad("invalid sinceTime \"yesterday\": want RFC 3339"),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            Some("sinceTime=2024-05-01T10:00:00Z&sinceSeconds=3"),
            bad("at most one of sinceTime or sinceSeconds may be specified"),
        ),
        (
            get.clone(),
            "/containerLogs/ns/p/c",
            Some("limitBytes=0"),
            bad("limitBytes must be greater than 0"),
        ),
        (
            get.clone(),
            "/exec/ns/p/c",
            Some("command=sh&command=-c&command=echo%20hi&stdout=true&stderr=true"),
            Ok(Route::Exec(
                ctr(None),
                ExecQuery {
                    command: vec!["sh".into(), "-c".into(), "echo hi".into()],
                    stdout: true,
                    stderr: true,
                    ..Default::default()
                },
            )),
        ),
        (
            post.clone(),
            "/exec/ns/p/u1/c",
            Some("command=ls&input=1&output=1&tty=1&stderr=1"),
            Ok(Route::Exec(
                ctr(Some("u1")),
                ExecQuery {
                    command: vec!["ls".into()],
                    stdin: true,
                    stdout: true,
                    stderr: false,
                    tty: true,
                },
            )),
        ),
        (
            get.clone(),
            "/exec/ns/p/c",
            Some("stdout=1"),
            bad("you must specify a command"),
        ),
        (
            get.clone(),
            "/exec/ns/p/c",
            Some("command=ls"),
            bad("you must specify at least 1 of stdin, stdout, stderr"),
        ),
        (
            Method::PUT,
            "/exec/ns/p/c",
            Some("command=ls&stdout=1"),
            Err(RouteError::MethodNotAllowed),
        ),
        (
            post.clone(),
            "/attach/ns/p/c",
            Some("stdin=true&stdout=true&tty=true"),
            Ok(Route::Attach(
                ctr(None),
                ExecQuery {
                    stdin: true,
                    stdout: true,
                    tty: true,
                    ..Default::default()
                },
            )),
        ),
        (
            get.clone(),
            "/portForward/ns/p",
            None,
            Ok(Route::PortForward(pod(None), vec![])),
        ),
        (
            get.clone(),
            "/portForward/ns/p/u1",
            Some("port=80&port=8080"),
            Ok(Route::PortForward(pod(Some("u1")), vec![80, 8080])),
        ),
        (
            get.clone(),
            "/portForward/ns/p",
            Some("port=0"),
            bad("invalid port \"0\""),
        ),
        (
            get.clone(),
            "/portForward/ns/p",
            Some("port=x"),
            bad("invalid port \"x\""),
        ),
        (
            get.clone(),
            "/portForward/ns/p/u/extra",
            None,
            Err(RouteError::NotFound),
        ),
        (
            get.clone(),
            "/exec/ns/%zz/c",
            Some("command=ls&stdout=1"),
            bad("invalid escape in path segment \"%zz\""),
        ),
        (
            get.clone(),
            "/containerLogs/ns//c",
            None,
            bad("empty pod name"),
        ),
    ];
    for (method, path, query, want) in cases {
        assert_eq!(
            route(&method, path, query),
            want,
            "{method} {path}?{query:?}"
        );
    }
}
