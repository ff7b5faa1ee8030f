//! `GET /devices/{device_id}/login/events`: the device's login flow as server-sent events,
//! one per step (`qr` for every rotation, `pair_code`, then `success`, `timeout`,
//! `cancelled` or `failed`), starting with the step showing now. The stream ends with the
//! flow, and a follower that comes after the end still gets the last event.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use http::{HeaderMap, StatusCode};

use super::Provisioning;
use super::basic_auth::ApiUser;
use super::device_json::progress_json;
use super::devices::Links;
use super::envelope::DeviceApiError;
use crate::bridge::login::FlowHandle;

pub async fn follow(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let exists = state.bridge.api_device(&user.0, &device_id).await;
    match exists {
        Ok(Some(_)) => {}
        Ok(None) => return DeviceApiError::device_not_found().into_response(),
        Err(err) => return DeviceApiError::internal(err).into_response(),
    }
    let Some(flow) = state.device_flow(&user.0, &device_id) else {
        return DeviceApiError::new(
            StatusCode::NOT_FOUND,
            "NO_LOGIN",
            "no login has run for this device since the bridge started; GET /devices/{device_id}/login starts one",
        )
        .into_response();
    };
    let links = Arc::new(Links::new(&headers, &device_id));
    Sse::new(steps(flow, links))
        .keep_alive(KeepAlive::default())
        .into_response()
}

struct Follower {
    flow: FlowHandle,
    links: Arc<Links>,
    /// The last step sent; None before the first.
    sent: Option<u64>,
    done: bool,
}

fn steps(
    flow: FlowHandle,
    links: Arc<Links>,
) -> impl futures_util::Stream<Item = Result<Event, Infallible>> + Send {
    let start = Follower {
        flow,
        links,
        sent: None,
        done: false,
    };
    stream::unfold(start, |mut follower| async move {
        if follower.done {
            return None;
        }
        let progress = match follower.sent {
            None => follower.flow.progress(),
            Some(sent) => follower.flow.next_after(sent).await,
        };
        // `next_after` also returns for a finished flow whose end was sent already.
        if follower.sent == Some(progress.seq) {
            return None;
        }
        follower.sent = Some(progress.seq);
        follower.done = progress.is_finished();
        let json = progress_json(&progress, |rotation| follower.links.qr(rotation));
        let event = Event::default()
            .event(json.event)
            .id(progress.seq.to_string())
            .json_data(&json)
            .unwrap_or_else(|_| Event::default().event("error"));
        Some((Ok(event), follower))
    })
}
