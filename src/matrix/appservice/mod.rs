//! The appservice HTTP server: what the homeserver calls. Transactions are handed to an
//! `EventSink` (the bridge core) once each, whatever the homeserver replays.

mod auth;
pub mod ephemeral;
mod error;
mod health;
mod queries;
mod transactions;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use ruma::UserId;
use ruma::events::AnyTimelineEvent;
use tokio::sync::Mutex;
use tower_http::trace::TraceLayer;

pub use error::ApiError;

use crate::clock::Clock;
use crate::db::Db;
use crate::matrix::ids::BridgeIds;

/// A failure that the homeserver should retry later (the transaction is answered with 500).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct RetryLater(pub String);

/// What the appservice hands events to. Implemented by the bridge core.
pub trait EventSink: Send + Sync + 'static {
    /// Acts on one event from a Matrix user (`json` is the event as the homeserver sent
    /// it, for a sink that keeps events to act on later). Permanent problems are the
    /// sink's to report; `RetryLater` makes the homeserver send the transaction again.
    fn handle_event(
        &self,
        event: AnyTimelineEvent,
        json: &str,
    ) -> impl Future<Output = Result<(), RetryLater>> + Send;

    /// Acts on a read receipt or a typing change. Best effort: these are momentary, so a
    /// failure is the sink's to log and never a reason to have the transaction resent.
    fn handle_ephemeral(&self, event: ephemeral::EphemeralEvent)
    -> impl Future<Output = ()> + Send;

    /// Whether `user` in the bridge's namespace exists (the homeserver's user query).
    fn user_exists(&self, user: &UserId) -> impl Future<Output = bool> + Send;
}

pub struct Appservice<S> {
    db: Db,
    ids: BridgeIds,
    sink: Arc<S>,
    clock: Arc<dyn Clock>,
    /// One transaction at a time: a retry racing the original must see it recorded.
    txn_lock: Mutex<()>,
}

/// Largest transaction body accepted: 100 events of the 64 KiB maximum, with room to spare.
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

pub fn router<S: EventSink>(
    hs_token: &str,
    db: Db,
    ids: BridgeIds,
    sink: Arc<S>,
    clock: Arc<dyn Clock>,
    ready: Arc<AtomicBool>,
) -> Router {
    let state = Arc::new(Appservice {
        db,
        ids,
        sink,
        clock,
        txn_lock: Mutex::new(()),
    });
    let homeserver_api = Router::new()
        .route(
            "/_matrix/app/v1/transactions/{txn_id}",
            put(transactions::put_transaction::<S>),
        )
        .route(
            "/_matrix/app/v1/users/{user_id}",
            get(queries::query_user::<S>),
        )
        .route(
            "/_matrix/app/v1/rooms/{alias}",
            get(queries::query_room_alias),
        )
        .route("/_matrix/app/v1/ping", post(queries::ping))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            auth::HsToken(Arc::from(hs_token)),
            auth::require_hs_token,
        ));
    Router::new()
        .merge(homeserver_api)
        .merge(health::router(ready))
        .fallback(|| async {
            ApiError::new(
                http::StatusCode::NOT_FOUND,
                "M_UNRECOGNIZED",
                "unknown endpoint",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(TraceLayer::new_for_http())
}
