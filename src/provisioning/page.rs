//! The login page: a small HTML page, behind the device API's credentials, that drives
//! the device API from the browser (QR image refreshed on each rotation, pairing-code
//! form, the outcome).

use std::sync::Arc;

use axum::Router;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::{Provisioning, basic_auth};

const PAGE: &str = include_str!("login_page.html");

pub fn router(state: Arc<Provisioning>) -> Router {
    Router::new()
        .route("/login", get(page))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            basic_auth::require,
        ))
        .with_state(state)
}

async fn page() -> Response {
    (
        [(
            http::header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; img-src 'self'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'",
        )],
        Html(PAGE),
    )
        .into_response()
}
