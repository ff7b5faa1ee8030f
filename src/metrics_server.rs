//! The metrics endpoint: `GET /metrics` on its own listener (`metrics.listen`), so
//! Prometheus is never given the appservice port.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;

use crate::bridge::Bridge;

/// The exposition format's content type.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Starts serving; fails when the address cannot be listened on.
pub async fn start(bridge: Arc<Bridge>, listen: SocketAddr) -> anyhow::Result<()> {
    let listener = TcpListener::bind(listen).await.with_context(|| {
        format!("cannot listen on {listen} (metrics.listen); is another program using the port?")
    })?;
    tracing::info!(%listen, "metrics listening");
    let router = Router::new()
        .route("/metrics", get(metrics))
        .with_state(bridge);
    tokio::spawn(async move {
        if let Err(err) = axum::serve(listener, router).await {
            tracing::warn!(error = %err, "the metrics server stopped");
        }
    });
    Ok(())
}

async fn metrics(State(bridge): State<Arc<Bridge>>) -> Response {
    match bridge.render_metrics().await {
        Ok(text) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "cannot render the metrics");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                format!("metrics unavailable: {err}\n"),
            )
                .into_response()
        }
    }
}
