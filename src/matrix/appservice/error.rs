use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Serialize;

/// A Matrix-style error answer: `{"errcode": …, "error": …}` with its HTTP status.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub errcode: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Body<'a> {
    errcode: &'a str,
    error: &'a str,
}

impl ApiError {
    pub fn new(status: StatusCode, errcode: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            errcode,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            errcode: self.errcode,
            error: &self.message,
        };
        (self.status, Json(body)).into_response()
    }
}
