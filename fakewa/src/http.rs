//! The HTTP side of the server, on both the plain and the TLS port: the
//! WebSocket upgrade on `/ws/chat`, and the media server (uploads under
//! `/mms/<type>/…`, downloads by direct path, deletes).

use crate::state::{ServerEvent, Shared};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, UPGRADE};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::Role;

const CHAT_PATH: &str = "/ws/chat";
/// Larger uploads are refused (WhatsApp's own limit is 2 GB; tests need far less).
const MAX_UPLOAD: usize = 128 * 1024 * 1024;

/// Serves one accepted connection (plain or TLS) until it closes.
pub(crate) async fn serve_connection<I>(shared: Arc<Shared>, io: I)
where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(route(shared, request).await) }
    });
    if let Err(err) = http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades()
        .await
    {
        log::debug!("http connection ended: {err}");
    }
}

fn plain(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn route(shared: Arc<Shared>, mut request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_owned();
    let path_and_query = request
        .uri()
        .path_and_query()
        .map(|pq| pq.as_str().to_owned())
        .unwrap_or_else(|| path.clone());
    let is_upgrade = request.headers().contains_key(SEC_WEBSOCKET_KEY);
    match (request.method().clone(), path.as_str()) {
        (Method::GET, CHAT_PATH) if is_upgrade => upgrade(shared, &mut request),
        (Method::POST, upload) if upload.starts_with("/mms/") => {
            let segment = upload.split('/').nth(2).unwrap_or("media").to_owned();
            let body = match Limited::new(request.into_body(), MAX_UPLOAD)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(err) => return plain(StatusCode::PAYLOAD_TOO_LARGE, err.to_string()),
            };
            let size = body.len();
            let direct_path = shared.state().media.put(&segment, body.to_vec());
            shared.emit(ServerEvent::MediaUploaded {
                direct_path: direct_path.clone(),
                size,
            });
            let answer = serde_json::json!({
                "url": format!("https://{}{}", shared.media_host(), direct_path),
                "direct_path": direct_path,
            });
            let mut response = plain(StatusCode::OK, answer.to_string());
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            response
        }
        (Method::GET, _) => {
            let found = shared
                .state()
                .media
                .get(&path_and_query)
                .map(<[u8]>::to_vec);
            match found {
                Some(bytes) => {
                    shared.emit(ServerEvent::MediaFetched {
                        direct_path: path_and_query,
                    });
                    plain(StatusCode::OK, bytes)
                }
                None => plain(StatusCode::NOT_FOUND, "no such media"),
            }
        }
        (Method::DELETE, _) => plain(StatusCode::OK, ""),
        _ => plain(StatusCode::NOT_FOUND, "not found"),
    }
}

/// Answers the WebSocket handshake and hands the socket to the chat server.
fn upgrade(shared: Arc<Shared>, request: &mut Request<Incoming>) -> Response<Full<Bytes>> {
    let Some(key) = request.headers().get(SEC_WEBSOCKET_KEY) else {
        return plain(StatusCode::BAD_REQUEST, "no websocket key");
    };
    let accept = derive_accept_key(key.as_bytes());
    let upgrading = hyper::upgrade::on(request);
    tokio::spawn(async move {
        match upgrading.await {
            Ok(upgraded) => {
                let ws =
                    WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None)
                        .await;
                crate::conn::serve(shared, ws).await;
            }
            Err(err) => log::debug!("websocket upgrade failed: {err}"),
        }
    });
    let mut response = plain(StatusCode::SWITCHING_PROTOCOLS, "");
    let headers = response.headers_mut();
    headers.insert(
        UPGRADE,
        hyper::header::HeaderValue::from_static("websocket"),
    );
    headers.insert(
        CONNECTION,
        hyper::header::HeaderValue::from_static("Upgrade"),
    );
    if let Ok(value) = hyper::header::HeaderValue::from_str(&accept) {
        headers.insert(SEC_WEBSOCKET_ACCEPT, value);
    }
    response
}
