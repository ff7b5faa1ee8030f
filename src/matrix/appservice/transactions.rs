//! `PUT /_matrix/app/v1/transactions/{txnId}`: every event reaches the sink at most once
//! after it succeeded, however often the homeserver delivers it, across restarts too.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use http::StatusCode;
use ruma::events::AnyTimelineEvent;
use ruma::serde::Raw;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ephemeral::{self, EphemeralEvent};
use super::{ApiError, Appservice, EventSink};
use crate::telemetry::{self, Event};

/// The transaction body as the spec gives it; events stay raw until each is read on its own,
/// so one malformed event does not cost the others.
#[derive(Deserialize)]
struct TransactionBody {
    events: Vec<Raw<AnyTimelineEvent>>,
    #[serde(default)]
    ephemeral: Vec<Value>,
    #[serde(default, rename = "de.sorunome.msc2409.ephemeral")]
    ephemeral_unstable: Vec<Value>,
}

pub async fn put_transaction<S: EventSink>(
    State(appservice): State<Arc<Appservice<S>>>,
    Path(txn_id): Path<String>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body: TransactionBody = serde_json::from_slice(&body).map_err(|err| {
        let errcode = if err.is_syntax() || err.is_eof() {
            "M_NOT_JSON"
        } else {
            "M_BAD_JSON"
        };
        ApiError::new(
            StatusCode::BAD_REQUEST,
            errcode,
            format!("not a transaction: {err}"),
        )
    })?;
    let _serialized = appservice.txn_lock.lock().await;
    let db = &appservice.db;
    if db.txn_handled(&txn_id).await.map_err(storage_error)? {
        telemetry::emit(Event::TxnReplayed { txn_id: &txn_id });
        return Ok(Json(json!({})));
    }
    telemetry::emit(Event::TxnReceived {
        txn_id: &txn_id,
        events: body.events.len(),
        ephemeral: body.ephemeral.len() + body.ephemeral_unstable.len(),
    });
    for raw in body.events {
        let event = match raw.deserialize() {
            Ok(event) => event,
            Err(err) => {
                telemetry::emit(Event::MalformedEvent {
                    txn_id: &txn_id,
                    error: &err.to_string(),
                });
                continue;
            }
        };
        deliver_once(&appservice, event, raw.json().get()).await?;
    }
    for raw in body.ephemeral.iter().chain(&body.ephemeral_unstable) {
        for event in ephemeral::parse(raw) {
            let from_bridge = match &event {
                EphemeralEvent::Read { user, .. } => appservice.ids.is_bridge_user(user),
                EphemeralEvent::Typing { .. } => false,
            };
            if !from_bridge {
                appservice.sink.handle_ephemeral(event).await;
            }
        }
    }
    db.record_txn(&txn_id, appservice.clock.now_ms())
        .await
        .map_err(storage_error)?;
    Ok(Json(json!({})))
}

async fn deliver_once<S: EventSink>(
    appservice: &Appservice<S>,
    event: AnyTimelineEvent,
    json: &str,
) -> Result<(), ApiError> {
    let event_id = event.event_id().to_owned();
    if appservice.ids.is_bridge_user(event.sender()) {
        telemetry::emit(Event::EventSkipped {
            event_id: event_id.as_str(),
            reason: "sent by the bridge itself",
        });
        return Ok(());
    }
    let db = &appservice.db;
    if db
        .matrix_event_handled(event_id.as_str())
        .await
        .map_err(storage_error)?
    {
        telemetry::emit(Event::EventSkipped {
            event_id: event_id.as_str(),
            reason: "already handled",
        });
        return Ok(());
    }
    appservice
        .sink
        .handle_event(event, json)
        .await
        .map_err(|err| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "M_UNKNOWN",
                format!("will handle this transaction when retried: {err}"),
            )
        })?;
    db.record_matrix_event(event_id.as_str(), appservice.clock.now_ms())
        .await
        .map_err(storage_error)
}

fn storage_error(err: sqlx::Error) -> ApiError {
    tracing::error!(error = %err, "database error while handling a transaction");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "M_UNKNOWN",
        "the bridge's database is unavailable; retry later",
    )
}
