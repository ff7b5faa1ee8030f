//! The device API's answers: `{code, message, results}`, for success and for errors.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Envelope<T> {
    code: &'static str,
    message: String,
    results: Option<T>,
}

/// A successful answer.
pub fn success<T: Serialize>(message: impl Into<String>, results: T) -> Response {
    let body = Envelope {
        code: "SUCCESS",
        message: message.into(),
        results: Some(results),
    };
    (StatusCode::OK, Json(body)).into_response()
}

/// A failed request: its status, a stable code, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl DeviceApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn device_not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "DEVICE_NOT_FOUND",
            "no device of yours has that ID; GET /devices lists them",
        )
    }

    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::warn!(error = %err, "device API request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "the bridge hit an internal error; try again",
        )
    }
}

impl IntoResponse for DeviceApiError {
    fn into_response(self) -> Response {
        let body: Envelope<()> = Envelope {
            code: self.code,
            message: self.message,
            results: None,
        };
        (self.status, Json(body)).into_response()
    }
}
