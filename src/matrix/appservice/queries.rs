//! The homeserver's questions: does this user or alias exist, and are you there (ping).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use ruma::UserId;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, Appservice, EventSink};

pub async fn query_user<S: EventSink>(
    State(appservice): State<Arc<Appservice<S>>>,
    Path(user_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = UserId::parse(&user_id).map_err(|_| ApiError::not_found("not a user ID"))?;
    if appservice.ids.is_bridge_user(&user) && appservice.sink.user_exists(&user).await {
        Ok(Json(json!({})))
    } else {
        Err(ApiError::not_found("no such user on this bridge"))
    }
}

/// The bridge creates no rooms on demand for aliases.
pub async fn query_room_alias(Path(_alias): Path<String>) -> ApiError {
    ApiError::not_found("this bridge has no room aliases")
}

#[derive(Deserialize, Default)]
pub struct PingBody {
    transaction_id: Option<String>,
}

pub async fn ping(body: Option<Json<PingBody>>) -> Json<Value> {
    let transaction_id = body.and_then(|Json(body)| body.transaction_id);
    tracing::debug!(?transaction_id, "homeserver ping");
    Json(json!({}))
}
