//! `GET /containerLogs/{ns}/{pod}/{container}`: a container's CRI log file, selected and
//! rendered as kubectl expects, optionally followed.

pub mod files;
pub mod follow;
pub mod parse;
pub mod select;

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use gantry_cri::Cri;
use http_body_util::{BodyExt, StreamBody};
use hyper::Response;
use hyper::body::Frame;

use crate::routes::{ContainerRef, LogQuery};
use crate::{Body, HandlerError, locate};
use select::{Budget, Selection};

/// The selection a query asks for, `sinceSeconds` counted back from `now_nanos`.
pub fn selection(query: &LogQuery, now_nanos: i128) -> Selection {
    let since_nanos = query.since_time.or_else(|| {
        query
            .since_seconds
            .map(|s| now_nanos - i128::from(s) * 1_000_000_000)
    });
    Selection {
        since_nanos,
        tail_lines: query.tail_lines,
        timestamps: query.timestamps,
        limit_bytes: query.limit_bytes,
    }
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128)
}

/// Answers a log request.
pub async fn handle(
    cri: &Cri,
    target: &ContainerRef,
    query: &LogQuery,
) -> Result<Response<Body>, HandlerError> {
    let container_id = locate::container(cri, target, query.previous).await?;
    let info = locate::status(cri, &container_id).await?;
    if info.log_path.is_empty() {
        return Err(HandlerError::NotFound(format!(
            "container {} in pod {} has no log file",
            target.container, target.pod.name
        )));
    }
    let path = PathBuf::from(&info.log_path);
    let read_path = path.clone();
    let read = tokio::task::spawn_blocking(move || files::read_all(&read_path)).await;
    let (mut lines, mut reader, offset) = match read {
        Ok(Ok(read)) => read,
        Ok(Err(err)) => {
            return Err(HandlerError::Internal(format!(
                "read log file {}: {err}",
                path.display()
            )));
        }
        Err(err) => {
            return Err(HandlerError::Internal(format!(
                "read log file {}: {err}",
                path.display()
            )));
        }
    };
    let selection = selection(query, now_nanos());
    let mut budget = Budget::new(query.limit_bytes);
    let follow = query.follow && info.running;
    if !follow {
        lines.extend(reader.end_of_file());
        lines.extend(std::mem::take(&mut reader.assembler).finish());
    }
    let first = selection.select(&lines, &mut budget);
    let response = Response::builder().header("content-type", "text/plain");
    if !follow || budget.exhausted() {
        let body = http_body_util::Full::new(Bytes::from(first))
            .map_err(|never| match never {})
            .boxed_unsync();
        return Ok(response.body(body)?);
    }
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    let state = follow::Follow {
        path,
        offset,
        reader,
        selection,
        budget,
        cri: cri.clone(),
        container_id,
    };
    tokio::spawn(async move {
        if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
            return;
        }
        follow::follow(state, tx).await;
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|chunk| (Ok::<_, std::convert::Infallible>(Frame::data(chunk)), rx))
    });
    Ok(response.body(StreamBody::new(stream).boxed_unsync())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_seconds_counts_back_from_now() {
        let now = 1_000 * 1_000_000_000i128;
        let cases: Vec<(LogQuery, Option<i128>)> = vec![
            (LogQuery::default(), None),
            (
                LogQuery {
                    since_seconds: Some(10),
                    ..Default::default()
                },
                Some(990 * 1_000_000_000),
            ),
            (
                LogQuery {
                    since_time: Some(5),
                    ..Default::default()
                },
                Some(5),
            ),
        ];
        for (query, want) in cases {
            assert_eq!(selection(&query, now).since_nanos, want, "{query:?}");
        }
    }
}
