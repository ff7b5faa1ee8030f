//! The homeserver proves itself with the hs_token: in the Authorization header, or in the
//! legacy `access_token` query parameter. Compared in constant time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use subtle::ConstantTimeEq;

use super::error::ApiError;

#[derive(Clone)]
pub struct HsToken(pub Arc<str>);

pub async fn require_hs_token(
    State(expected): State<HsToken>,
    request: Request,
    next: Next,
) -> Response {
    let Some(presented) = presented_token(&request) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "M_MISSING_TOKEN",
            "missing the homeserver token",
        )
        .into_response();
    };
    if !bool::from(presented.as_bytes().ct_eq(expected.0.as_bytes())) {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "M_FORBIDDEN",
            "wrong homeserver token",
        )
        .into_response();
    }
    next.run(request).await
}

fn presented_token(request: &Request) -> Option<String> {
    let header = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(|token| token.trim().to_owned());
    header.or_else(|| {
        request.uri().query().and_then(|query| {
            url::form_urlencoded::parse(query.as_bytes())
                .find(|(key, _)| key == "access_token")
                .map(|(_, value)| value.into_owned())
        })
    })
}
