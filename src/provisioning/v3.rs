//! The Matrix-style provisioning API, `<prefix>/v3/…`: login flows as steps a dashboard
//! walks through (start, submit the number, long-poll for each QR and for the end),
//! cancel, logout, whoami.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use http::StatusCode;
use ruma::OwnedUserId;
use serde::Serialize;
use serde_json::json;

use super::Provisioning;
use super::device_json::connection_name;
use super::v3_auth::{self, MatrixError, ProvisionUser};
use super::v3_steps::{PHONE_FIELD, StepJson, StepKind, step_of};
use crate::bridge::connection::LinkState;
use crate::bridge::login::driver::LoginRequest;
use crate::bridge::login::{
    FlowHandle, FlowInput, FlowOrigin, FollowedFrontEnd, LoginMethod, Progress,
};
use crate::whatsapp::phone::PhoneNumber;

/// How long a step waits for WhatsApp before it answers with what shows now.
const STEP_WAIT: Duration = Duration::from_secs(120);
/// A login process nobody finished is forgotten after this.
const PROCESS_LIFETIME_MS: i64 = 30 * 60 * 1000;

struct Process {
    user: OwnedUserId,
    flow: FlowHandle,
    /// The step the client was shown last, and the flow update it came from.
    step: StepJson,
    shown_seq: u64,
    started_ms: i64,
}

/// The login processes started through this API, by login ID.
#[derive(Default)]
pub struct Processes(Mutex<HashMap<String, Process>>);

impl Processes {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Process>) -> T) -> T {
        f(&mut self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

pub fn router(state: Arc<Provisioning>) -> Router {
    Router::new()
        .route("/v3/login/flows", get(flows))
        .route("/v3/login/start/{flow_id}", post(start))
        .route(
            "/v3/login/step/{login_id}/{step_id}/{step_type}",
            post(step),
        )
        .route("/v3/login/cancel/{login_id}", post(cancel))
        .route("/v3/logout/{login_id}", post(logout))
        .route("/v3/logins", get(logins))
        .route("/v3/whoami", get(whoami))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            v3_auth::require,
        ))
        .with_state(state)
}

type V3Result = Result<Response, MatrixError>;

#[derive(Serialize)]
struct FlowJson {
    name: &'static str,
    description: &'static str,
    id: &'static str,
}

const FLOWS: [FlowJson; 2] = [
    FlowJson {
        name: "QR code",
        description: "Scan a QR code with WhatsApp on your phone",
        id: "qr",
    },
    FlowJson {
        name: "Pairing code",
        description: "Give your phone number, then type the code the bridge shows into WhatsApp on your phone",
        id: "phone",
    },
];

async fn flows() -> Response {
    Json(json!({ "flows": FLOWS })).into_response()
}

fn not_found(what: &str) -> MatrixError {
    MatrixError::new(StatusCode::NOT_FOUND, "M_NOT_FOUND", what)
}

fn bad_state(what: &str) -> MatrixError {
    MatrixError::new(StatusCode::BAD_REQUEST, "M_BAD_STATE", what)
}

/// Waits for the first update after `seen` that the client has something to do with.
async fn next_step(flow: &FlowHandle, seen: u64) -> Option<Progress> {
    let wait = async {
        let mut seen = seen;
        loop {
            let progress = flow.next_after(seen).await;
            if progress.latest.is_some() {
                return progress;
            }
            seen = progress.seq;
        }
    };
    tokio::time::timeout(STEP_WAIT, wait).await.ok()
}

/// The step a progress shows, or the error it ended with (or that nothing came in time).
fn shown_step(login_id: &str, progress: &Progress) -> Result<StepJson, MatrixError> {
    step_of(login_id, progress).unwrap_or_else(|| {
        Err(MatrixError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "M_UNKNOWN",
            "WhatsApp sent nothing in time; try the step again",
        ))
    })
}

/// Whether a process still has steps after showing this.
fn goes_on(shown: &Result<StepJson, MatrixError>) -> bool {
    matches!(shown, Ok(step) if step.kind != StepKind::Complete)
}

/// Shows the process's next step (or the error it ended with), and remembers it; a
/// process that ended is forgotten.
fn answer(state: &Provisioning, login_id: &str, progress: &Progress) -> V3Result {
    let shown = shown_step(login_id, progress);
    state.processes.with(|processes| match &shown {
        Ok(step) if goes_on(&shown) => {
            if let Some(process) = processes.get_mut(login_id) {
                process.step = step.clone();
                process.shown_seq = progress.seq;
            }
        }
        _ => {
            processes.remove(login_id);
        }
    });
    shown.map(|step| Json(step).into_response())
}

async fn start(
    State(state): State<Arc<Provisioning>>,
    Extension(ProvisionUser(user)): Extension<ProvisionUser>,
    Path(flow_id): Path<String>,
) -> V3Result {
    let method = match flow_id.as_str() {
        "qr" => LoginMethod::Qr,
        "phone" => LoginMethod::PairingCode,
        _ => return Err(not_found("no such login flow; GET login/flows lists them")),
    };
    let now = state.bridge.now_ms();
    state.processes.with(|processes| {
        processes.retain(|_, process| now - process.started_ms < PROCESS_LIFETIME_MS);
    });
    let login_id = format!("{:016x}", rand::random::<u64>());
    let request = LoginRequest {
        user: user.clone(),
        method,
        phone: None,
        api_device: None,
    };
    let flow = state
        .bridge
        .start_login(
            request,
            FlowOrigin::Provisioning(login_id.clone()),
            FollowedFrontEnd,
        )
        .map_err(|err| MatrixError::new(StatusCode::CONFLICT, "M_UNKNOWN", err.to_string()))?;
    let Some(progress) = next_step(&flow, 0).await else {
        flow.tell(FlowInput::Cancel);
        return Err(MatrixError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "M_UNKNOWN",
            "WhatsApp sent no code in time; try again",
        ));
    };
    let shown = shown_step(&login_id, &progress);
    if let (Ok(first), true) = (&shown, goes_on(&shown)) {
        let process = Process {
            user,
            flow,
            step: first.clone(),
            shown_seq: progress.seq,
            started_ms: now,
        };
        state
            .processes
            .with(|processes| processes.insert(login_id, process));
    }
    shown.map(|step| Json(step).into_response())
}

async fn step(
    State(state): State<Arc<Provisioning>>,
    Extension(ProvisionUser(user)): Extension<ProvisionUser>,
    Path((login_id, step_id, step_type)): Path<(String, String, String)>,
    body: Bytes,
) -> V3Result {
    let kind = match step_type.as_str() {
        "user_input" => StepKind::UserInput,
        "display_and_wait" => StepKind::DisplayAndWait,
        "complete" => {
            return Err(MatrixError::new(
                StatusCode::GONE,
                "FI.MAU.BRIDGE.LOGIN_ALREADY_FINISHED",
                "the login is finished",
            ));
        }
        _ => {
            return Err(MatrixError::new(
                StatusCode::NOT_FOUND,
                "M_UNRECOGNIZED",
                "the step type must be user_input or display_and_wait",
            ));
        }
    };
    let found = state.processes.with(|processes| {
        processes
            .get(&login_id)
            .filter(|process| process.user == user)
            .map(|process| {
                (
                    process.flow.clone(),
                    process.step.clone(),
                    process.shown_seq,
                )
            })
    });
    let Some((flow, shown, seen)) = found else {
        return Err(not_found("no login process of yours has that ID"));
    };
    if shown.step_id != step_id {
        return Err(bad_state(
            "the step ID does not match the login's current step",
        ));
    }
    if shown.kind != kind {
        return Err(bad_state(
            "the step type does not match the login's current step",
        ));
    }
    if kind == StepKind::UserInput {
        let fields: BTreeMap<String, String> = serde_json::from_slice(&body).map_err(|err| {
            MatrixError::new(
                StatusCode::BAD_REQUEST,
                "M_NOT_JSON",
                format!("the body must be a JSON object of the step's fields, like {{\"{PHONE_FIELD}\": \"+15551234567\"}}: {err}"),
            )
        })?;
        let number = fields
            .get(PHONE_FIELD)
            .map(String::as_str)
            .unwrap_or_default();
        let phone = PhoneNumber::parse(number).map_err(|err| {
            MatrixError::new(StatusCode::BAD_REQUEST, "M_INVALID_PARAM", err.to_string())
        })?;
        flow.tell(FlowInput::Text(phone.to_string()));
    }
    match next_step(&flow, seen).await {
        Some(progress) => answer(&state, &login_id, &progress),
        // Nothing new yet: the same step again, to be polled again.
        None => Ok(Json(shown).into_response()),
    }
}

async fn cancel(
    State(state): State<Arc<Provisioning>>,
    Extension(ProvisionUser(user)): Extension<ProvisionUser>,
    Path(login_id): Path<String>,
) -> V3Result {
    let removed = state
        .processes
        .with(|processes| match processes.get(&login_id) {
            Some(process) if process.user == user => processes.remove(&login_id),
            _ => None,
        });
    let Some(process) = removed else {
        return Err(not_found("no login process of yours has that ID"));
    };
    process.flow.tell(FlowInput::Cancel);
    Ok(Json(json!({})).into_response())
}

async fn logout(
    State(state): State<Arc<Provisioning>>,
    Extension(ProvisionUser(user)): Extension<ProvisionUser>,
    Path(login_id): Path<String>,
) -> V3Result {
    let logins = state
        .bridge
        .logins_of(&user)
        .await
        .map_err(MatrixError::internal)?;
    let chosen: Vec<_> = logins
        .into_iter()
        .filter(|login| login_id == "all" || login.phone == login_id)
        .collect();
    if chosen.is_empty() && login_id != "all" {
        return Err(not_found("no login of yours has that ID"));
    }
    for login in &chosen {
        state
            .bridge
            .log_out(login)
            .await
            .map_err(MatrixError::internal)?;
    }
    Ok(Json(json!({})).into_response())
}

async fn logins(
    State(state): State<Arc<Provisioning>>,
    Extension(ProvisionUser(user)): Extension<ProvisionUser>,
) -> V3Result {
    let logins = state
        .bridge
        .logins_of(&user)
        .await
        .map_err(MatrixError::internal)?;
    let ids: Vec<&str> = logins.iter().map(|login| login.phone.as_str()).collect();
    Ok(Json(json!({ "login_ids": ids })).into_response())
}

/// The login's connection in the words of Matrix bridge states.
fn state_event(link: Option<&LinkState>) -> &'static str {
    match link {
        Some(LinkState::Connected) => "CONNECTED",
        Some(LinkState::Connecting) => "CONNECTING",
        Some(LinkState::Reconnecting { .. }) => "TRANSIENT_DISCONNECT",
        Some(LinkState::LoggedOut(_)) => "LOGGED_OUT",
        Some(LinkState::TemporarilyBanned { .. } | LinkState::ClientOutdated) => "BAD_CREDENTIALS",
        Some(LinkState::Replaced | LinkState::Refused { .. }) | None => "UNKNOWN_ERROR",
    }
}

async fn whoami(
    State(state): State<Arc<Provisioning>>,
    Extension(ProvisionUser(user)): Extension<ProvisionUser>,
) -> V3Result {
    let bridge = &state.bridge;
    let facts = bridge
        .facts_for(&user)
        .await
        .map_err(MatrixError::internal)?;
    let logins = bridge
        .logins_of(&user)
        .await
        .map_err(MatrixError::internal)?;
    let now_s = bridge.now_ms() / 1000;
    let logins: Vec<serde_json::Value> = logins
        .into_iter()
        .map(|login| bridge.login_status(login))
        .map(|status| {
            let event = state_event(status.link.as_ref());
            let connection = status.link.as_ref().map(connection_name).unwrap_or("not_running");
            json!({
                "id": status.login.phone,
                "name": format!("+{}", status.login.phone),
                "state_event": event,
                "state": { "state_event": event, "timestamp": now_s, "info": { "connection": connection } },
                "profile": { "phone": format!("+{}", status.login.phone) },
            })
        })
        .collect();
    let mut body = json!({
        "network": {
            "displayname": "WhatsApp",
            "network_url": "https://www.whatsapp.com",
            "network_id": "whatsapp",
        },
        "login_flows": FLOWS,
        "homeserver": facts.homeserver,
        "bridge_bot": facts.bot,
        "command_prefix": facts.command_prefix,
        "logins": logins,
    });
    if let Some(room) = facts.management_room {
        body["management_room"] = json!(room);
    }
    Ok(Json(body).into_response())
}
