//! Liveness and readiness, for process supervisors and container health checks.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use serde_json::{Value, json};

pub fn router(ready: Arc<AtomicBool>) -> Router {
    Router::new()
        .route(
            "/_matrix/mau/live",
            get(|| async { Json(json!({ "ok": true })) }),
        )
        .route("/_matrix/mau/ready", get(readiness))
        .with_state(ready)
}

async fn readiness(State(ready): State<Arc<AtomicBool>>) -> (StatusCode, Json<Value>) {
    if ready.load(Ordering::Acquire) {
        (StatusCode::OK, Json(json!({ "ok": true })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "ok": false, "reason": "starting" })),
        )
    }
}
