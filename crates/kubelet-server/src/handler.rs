//! One request: authentication, routing, dispatch, and the one translation from
//! `HandlerError` to an HTTP status with a plain-text message.

use bytes::Bytes;
use gantry_cri::Cri;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use crate::locate::LocateError;
use crate::routes::{Route, RouteError, route};
use crate::stream::{self, Call};
use crate::{Body, HandlerError, logs, translate, tunnel};

/// Answers one request. `authenticated`: the client presented a certificate the CA signed.
pub async fn handle(req: Request<Incoming>, cri: &Cri, authenticated: bool) -> Response<Body> {
    let route = match route(req.method(), req.uri().path(), req.uri().query()) {
        Ok(route) => route,
        Err(_) if !authenticated => return text(StatusCode::UNAUTHORIZED, UNAUTHORIZED),
        Err(RouteError::NotFound) => return text(StatusCode::NOT_FOUND, "404 page not found"),
        Err(RouteError::MethodNotAllowed) => {
            return text(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
        }
        Err(RouteError::BadRequest(msg)) => return text(StatusCode::BAD_REQUEST, &msg),
    };
    if route == Route::Healthz {
        return text(StatusCode::OK, "ok");
    }
    if !authenticated {
        return text(
            StatusCode::UNAUTHORIZED,
            "Unauthorized: a client certificate is required",
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match dispatch(req, cri, route).await {
        Ok(response) => response,
        Err(err) => {
            let (status, msg) = status_of(&err);
            if status.is_server_error() {
                tracing::warn!(%method, %path, %err, "kubelet server request failed");
            }
            text(status, &msg)
        }
    }
}

const UNAUTHORIZED: &str = "Unauthorized: a client certificate is required";

async fn dispatch(
    req: Request<Incoming>,
    cri: &Cri,
    route: Route,
) -> Result<Response<Body>, HandlerError> {
    match route {
        Route::Healthz => Ok(text(StatusCode::OK, "ok")),
        Route::Logs(target, query) => logs::handle(cri, &target, &query).await,
        Route::Exec(target, query) => {
            stream::check_upgrade(&req)?;
            let url = stream::url(cri, Call::Exec(&target, &query)).await?;
            if translate::wants_v5(req.headers()) {
                translate::translate(req, &url, &query).await
            } else {
                stream::proxy(req, &url).await
            }
        }
        Route::Attach(target, query) => {
            stream::check_upgrade(&req)?;
            let url = stream::url(cri, Call::Attach(&target, &query)).await?;
            if translate::wants_v5(req.headers()) {
                translate::translate(req, &url, &query).await
            } else {
                stream::proxy(req, &url).await
            }
        }
        Route::PortForward(pod, ports) => {
            stream::check_upgrade(&req)?;
            let url = stream::url(cri, Call::PortForward(&pod, &ports)).await?;
            if tunnel::wants_tunnel(req.headers()) {
                tunnel::tunnel(req, &url).await
            } else {
                stream::proxy(req, &url).await
            }
        }
    }
}

/// The status and message for an error.
pub fn status_of(err: &HandlerError) -> (StatusCode, String) {
    let status = match err {
        HandlerError::BadRequest(_) => StatusCode::BAD_REQUEST,
        HandlerError::NotFound(_) => StatusCode::NOT_FOUND,
        HandlerError::Locate(LocateError::NoPrevious { .. }) => StatusCode::BAD_REQUEST,
        HandlerError::Locate(
            LocateError::PodNotFound { .. } | LocateError::ContainerNotFound { .. },
        ) => StatusCode::NOT_FOUND,
        // gRPC NOT_FOUND (5): the container or sandbox went away meanwhile.
        HandlerError::Locate(LocateError::Cri(e)) | HandlerError::Cri(e)
            if e.code().map(i32::from) == Some(5) =>
        {
            StatusCode::NOT_FOUND
        }
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, err.to_string())
}

/// A plain-text response.
pub fn text(status: StatusCode, msg: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(format!("{msg}\n")))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
