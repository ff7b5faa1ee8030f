//! Authentication of the Matrix-style provisioning API: `Authorization: Bearer <shared
//! secret>` (compared in constant time) and `?user_id=` naming the user acted for.
//! Errors are Matrix-style `{errcode, error}`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use ruma::{OwnedUserId, UserId};
use serde::Serialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::form_urlencoded;

use super::Provisioning;

/// A Matrix-style error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixError {
    pub status: StatusCode,
    pub errcode: &'static str,
    pub error: String,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    errcode: &'a str,
    error: &'a str,
}

impl MatrixError {
    pub fn new(status: StatusCode, errcode: &'static str, error: impl Into<String>) -> Self {
        Self {
            status,
            errcode,
            error: error.into(),
        }
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %err, "provisioning request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "M_UNKNOWN",
            "the bridge hit an internal error; try again",
        )
    }
}

impl IntoResponse for MatrixError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            errcode: self.errcode,
            error: &self.error,
        };
        (self.status, Json(body)).into_response()
    }
}

/// SHA-256 of the secret, so comparing takes the same time whatever is presented.
#[derive(Debug)]
pub struct SharedSecret(Option<[u8; 32]>);

impl SharedSecret {
    pub fn new(secret: &str) -> Self {
        Self((!secret.is_empty()).then(|| Sha256::digest(secret.as_bytes()).into()))
    }

    fn accepts(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        self.0
            .is_some_and(|expected| bool::from(expected.ct_eq(&presented)))
    }
}

/// The user a request acts for.
#[derive(Debug, Clone)]
pub struct ProvisionUser(pub OwnedUserId);

fn user_id_of(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(key, _)| key == "user_id")
        .map(|(_, value)| value.into_owned())
}

pub async fn require(
    State(state): State<Arc<Provisioning>>,
    mut request: Request,
    next: Next,
) -> Response {
    if state.shared_secret.0.is_none() {
        return MatrixError::new(
            StatusCode::FORBIDDEN,
            "M_FORBIDDEN",
            "the provisioning API is off: provisioning.shared_secret is empty",
        )
        .into_response();
    }
    let token = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    let Some(token) = token else {
        return MatrixError::new(
            StatusCode::UNAUTHORIZED,
            "M_MISSING_TOKEN",
            "send Authorization: Bearer <provisioning.shared_secret>",
        )
        .into_response();
    };
    if !state.shared_secret.accepts(token.trim()) {
        return MatrixError::new(StatusCode::UNAUTHORIZED, "M_UNKNOWN_TOKEN", "wrong token")
            .into_response();
    }
    let Some(user) = user_id_of(request.uri().query()) else {
        return MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_MISSING_PARAM",
            "?user_id= must name the Matrix user, like ?user_id=@alice:example.com",
        )
        .into_response();
    };
    let Ok(user) = UserId::parse(user.as_str()) else {
        return MatrixError::new(
            StatusCode::BAD_REQUEST,
            "M_INVALID_PARAM",
            format!("`{user}` is not a Matrix user ID like @alice:example.com"),
        )
        .into_response();
    };
    if !state.bridge.may_log_in(&user) {
        return MatrixError::new(
            StatusCode::FORBIDDEN,
            "M_FORBIDDEN",
            "this user may not log in to the bridge (bridge.permissions)",
        )
        .into_response();
    }
    request.extensions_mut().insert(ProvisionUser(user));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_itself_is_accepted() {
        let secret = SharedSecret::new("a-long-shared-secret");
        assert!(secret.accepts("a-long-shared-secret"));
        assert!(!secret.accepts("a-long-shared-secreT"));
        assert!(!secret.accepts(""));
        assert!(!SharedSecret::new("").accepts(""), "empty means off");
    }

    #[test]
    fn the_user_comes_from_the_query() {
        assert_eq!(
            user_id_of(Some("x=1&user_id=%40alice%3Aexample.com")).as_deref(),
            Some("@alice:example.com")
        );
        assert_eq!(user_id_of(Some("x=1")), None);
        assert_eq!(user_id_of(None), None);
    }
}
