//! The device API: `/devices` and each device's login, logout, reconnect and status.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::Provisioning;
use super::basic_auth::{self, ApiUser};
use super::device_json::{DeviceJson, device_json};
use super::envelope::{DeviceApiError, success};
use super::events;
use super::time::rfc3339;
use crate::bridge::devices::{DeviceLoginError, DeviceView};
use crate::bridge::login::qr_image::qr_png;
use crate::bridge::login::{FlowHandle, FlowInput, LoginMethod, LoginUpdate, Progress};
use crate::bridge::logins::{LoggedOut, Reconnect};
use crate::whatsapp::phone::PhoneNumber;

/// How long a request waits for WhatsApp's first code before it gives up.
const FIRST_CODE_WAIT: Duration = Duration::from_secs(75);

pub fn router(state: Arc<Provisioning>) -> Router {
    Router::new()
        .route("/devices", get(list).post(create))
        .route("/devices/{device_id}", get(show).delete(remove))
        .route("/devices/{device_id}/status", get(show))
        .route("/devices/{device_id}/login", get(login_qr))
        .route("/devices/{device_id}/login/code", post(login_code))
        .route("/devices/{device_id}/login/qr.png", get(qr_image))
        .route("/devices/{device_id}/login/events", get(events::follow))
        .route("/devices/{device_id}/login/cancel", post(cancel))
        .route("/devices/{device_id}/logout", post(logout))
        .route("/devices/{device_id}/reconnect", post(reconnect))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            basic_auth::require,
        ))
        .with_state(state)
}

type ApiResult = Result<Response, DeviceApiError>;

/// `http(s)://host` of the request, as the client reached the bridge.
pub fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .filter(|host| !host.is_empty() && !host.contains(['/', ' ']))
        .unwrap_or("localhost");
    let scheme = match headers
        .get("x-forwarded-proto")
        .and_then(|proto| proto.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}")
}

/// Device IDs are names people pick: letters, digits, `.`, `_`, `-`, at most 64.
fn valid_device_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

pub struct Links {
    base: String,
    device_id: String,
}

impl Links {
    pub fn new(headers: &HeaderMap, device_id: &str) -> Self {
        Self {
            base: base_url(headers),
            device_id: device_id.to_owned(),
        }
    }

    pub fn qr(&self, rotation: u32) -> String {
        format!(
            "{}/devices/{}/login/qr.png?rotation={rotation}",
            self.base, self.device_id
        )
    }

    fn events(&self) -> String {
        format!("{}/devices/{}/login/events", self.base, self.device_id)
    }
}

async fn find(
    state: &Provisioning,
    user: &ApiUser,
    device_id: &str,
) -> Result<DeviceView, DeviceApiError> {
    if !valid_device_id(device_id) {
        return Err(DeviceApiError::device_not_found());
    }
    state
        .bridge
        .api_device(&user.0, device_id)
        .await
        .map_err(DeviceApiError::internal)?
        .ok_or_else(DeviceApiError::device_not_found)
}

fn json_of(state: &Provisioning, user: &ApiUser, view: &DeviceView, links: &Links) -> DeviceJson {
    let last = state
        .device_flow(&user.0, &view.row.device_id)
        .map(|flow| flow.progress());
    device_json(view, last.as_ref(), |rotation| links.qr(rotation))
}

async fn list(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    headers: HeaderMap,
) -> ApiResult {
    let views = state
        .bridge
        .api_devices(&user.0)
        .await
        .map_err(DeviceApiError::internal)?;
    let devices: Vec<DeviceJson> = views
        .iter()
        .map(|view| {
            json_of(
                &state,
                &user,
                view,
                &Links::new(&headers, &view.row.device_id),
            )
        })
        .collect();
    Ok(success("devices listed", devices))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewDevice {
    device_id: Option<String>,
    name: Option<String>,
}

async fn create(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let new: NewDevice = if body.iter().all(u8::is_ascii_whitespace) {
        NewDevice::default()
    } else {
        serde_json::from_slice(&body).map_err(|err| {
            DeviceApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_BODY",
                format!("the body must be JSON like {{\"device_id\": \"phone-1\", \"name\": \"Sales phone\"}} (both optional): {err}"),
            )
        })?
    };
    let device_id = new
        .device_id
        .unwrap_or_else(|| format!("{:016x}", rand::random::<u64>()));
    if !valid_device_id(&device_id) {
        return Err(DeviceApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_DEVICE_ID",
            "device_id must be 1 to 64 letters, digits, `.`, `_` or `-`",
        ));
    }
    let name = new.name.unwrap_or_else(|| device_id.clone());
    if name.chars().count() > 200 {
        return Err(DeviceApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_NAME",
            "name must be at most 200 characters",
        ));
    }
    let created = state
        .bridge
        .create_api_device(&user.0, &device_id, &name)
        .await
        .map_err(DeviceApiError::internal)?;
    if !created {
        return Err(DeviceApiError::new(
            StatusCode::CONFLICT,
            "DEVICE_EXISTS",
            "you have a device with that ID already",
        ));
    }
    let view = find(&state, &user, &device_id).await?;
    let json = json_of(&state, &user, &view, &Links::new(&headers, &device_id));
    let mut response = success("device created", json);
    *response.status_mut() = StatusCode::CREATED;
    Ok(response)
}

async fn show(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let view = find(&state, &user, &device_id).await?;
    let json = json_of(&state, &user, &view, &Links::new(&headers, &device_id));
    Ok(success("device found", json))
}

#[derive(Serialize)]
/// Names the device an action was done to.
struct DeviceRef {
    device_id: String,
}

async fn remove(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
) -> ApiResult {
    find(&state, &user, &device_id).await?;
    state
        .bridge
        .delete_api_device(&user.0, &device_id)
        .await
        .map_err(DeviceApiError::internal)?;
    state.forget_device_flow(&user.0, &device_id);
    Ok(success("device deleted", DeviceRef { device_id }))
}

fn start_error(err: DeviceLoginError) -> DeviceApiError {
    let code = match err {
        DeviceLoginError::AlreadyLoggedIn => "ALREADY_LOGGED_IN",
        DeviceLoginError::OtherLoginInProgress => "LOGIN_IN_PROGRESS",
    };
    DeviceApiError::new(StatusCode::CONFLICT, code, err.to_string())
}

/// Starts the device's login (or joins the one running) and waits for its first code
/// (or its end); None when WhatsApp sent nothing in time.
async fn start_and_wait(
    state: &Provisioning,
    user: &ApiUser,
    view: &DeviceView,
    method: LoginMethod,
    phone: Option<PhoneNumber>,
) -> Result<Option<Progress>, DeviceApiError> {
    let flow = state
        .bridge
        .start_device_login(view, &user.0, method, phone)
        .map_err(start_error)?;
    state.remember_device_flow(&user.0, &view.row.device_id, &flow);
    Ok(first_code(&flow).await)
}

/// Waits for the flow's first code (or its end).
async fn first_code(flow: &FlowHandle) -> Option<Progress> {
    let wait = async {
        let mut seen = 0;
        loop {
            let progress = flow.next_after(seen).await;
            match &progress.latest {
                Some(LoginUpdate::AskPhone) | None => seen = progress.seq,
                Some(_) => return progress,
            }
        }
    };
    tokio::time::timeout(FIRST_CODE_WAIT, wait).await.ok()
}

/// An end before any code, as an error.
fn ended(progress: Option<Progress>) -> DeviceApiError {
    match progress.and_then(|progress| progress.latest) {
        Some(LoginUpdate::Failed { reason }) => {
            DeviceApiError::new(StatusCode::BAD_GATEWAY, "WHATSAPP_ERROR", reason)
        }
        Some(LoginUpdate::Cancelled) => DeviceApiError::new(
            StatusCode::CONFLICT,
            "LOGIN_CANCELLED",
            "the login was cancelled",
        ),
        Some(LoginUpdate::Succeeded { .. }) => start_error(DeviceLoginError::AlreadyLoggedIn),
        _ => DeviceApiError::new(
            StatusCode::GATEWAY_TIMEOUT,
            "LOGIN_TIMED_OUT",
            "WhatsApp sent no code in time; try again",
        ),
    }
}

#[derive(Serialize)]
struct QrResults {
    qr_link: String,
    /// Seconds this code stays valid.
    qr_duration: i64,
    /// The text in the QR code, for clients that draw it themselves.
    qr_code: String,
    expires_at: String,
    rotation: u32,
    /// Server-sent events: every later code and the outcome.
    events_link: String,
}

async fn login_qr(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let view = find(&state, &user, &device_id).await?;
    let progress = start_and_wait(&state, &user, &view, LoginMethod::Qr, None).await?;
    let links = Links::new(&headers, &device_id);
    match progress
        .as_ref()
        .and_then(|progress| progress.latest.clone())
    {
        Some(LoginUpdate::Qr {
            code,
            rotation,
            expires_at_ms,
        }) => {
            let now = state.bridge.now_ms();
            Ok(success(
                "QR code generated: scan it in WhatsApp under Linked devices",
                QrResults {
                    qr_link: links.qr(rotation),
                    qr_duration: (expires_at_ms.saturating_sub(now) / 1000).max(0),
                    qr_code: code,
                    expires_at: rfc3339(expires_at_ms),
                    rotation,
                    events_link: links.events(),
                },
            ))
        }
        _ => Err(ended(progress)),
    }
}

#[derive(Deserialize)]
struct PhoneQuery {
    phone: Option<String>,
}

#[derive(Serialize)]
struct PairCodeResults {
    pair_code: String,
    expires_at: String,
    events_link: String,
}

async fn login_code(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
    Query(query): Query<PhoneQuery>,
    headers: HeaderMap,
) -> ApiResult {
    let view = find(&state, &user, &device_id).await?;
    let phone = PhoneNumber::parse(query.phone.as_deref().unwrap_or_default()).map_err(|err| {
        DeviceApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_PHONE",
            format!("{err}. Expected: ?phone= with the country code and the number, digits only, like ?phone=628912344551"),
        )
    })?;
    let progress =
        start_and_wait(&state, &user, &view, LoginMethod::PairingCode, Some(phone)).await?;
    let links = Links::new(&headers, &device_id);
    match progress
        .as_ref()
        .and_then(|progress| progress.latest.clone())
    {
        Some(LoginUpdate::PairCode {
            code,
            expires_at_ms,
        }) => Ok(success(
            "pairing code generated: enter it in WhatsApp under Linked devices → Link with phone number instead",
            PairCodeResults {
                pair_code: code,
                expires_at: rfc3339(expires_at_ms),
                events_link: links.events(),
            },
        )),
        _ => Err(ended(progress)),
    }
}

async fn qr_image(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
) -> ApiResult {
    find(&state, &user, &device_id).await?;
    let current = state
        .device_flow(&user.0, &device_id)
        .map(|flow| flow.progress())
        .and_then(|progress| match progress.latest {
            Some(LoginUpdate::Qr { code, .. }) => Some(code),
            _ => None,
        });
    let Some(code) = current else {
        return Err(DeviceApiError::new(
            StatusCode::NOT_FOUND,
            "NO_QR_CODE",
            "no QR code is showing for this device; GET /devices/{device_id}/login starts a login",
        ));
    };
    let png = qr_png(&code).map_err(DeviceApiError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        png,
    )
        .into_response())
}

async fn cancel(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
) -> ApiResult {
    let view = find(&state, &user, &device_id).await?;
    let told = view.flow.is_some_and(|flow| flow.tell(FlowInput::Cancel));
    if !told {
        return Err(DeviceApiError::new(
            StatusCode::CONFLICT,
            "NO_LOGIN_IN_PROGRESS",
            "no login is in progress for this device",
        ));
    }
    Ok(success("login cancelled", DeviceRef { device_id }))
}

fn not_logged_in() -> DeviceApiError {
    DeviceApiError::new(
        StatusCode::CONFLICT,
        "NOT_LOGGED_IN",
        "the device holds no WhatsApp login; GET /devices/{device_id}/login starts one",
    )
}

#[derive(Serialize)]
struct LogoutResults {
    device_id: String,
    /// False when WhatsApp could not be told: remove the linked device on the phone.
    unlinked: bool,
}

async fn logout(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
) -> ApiResult {
    let view = find(&state, &user, &device_id).await?;
    let outcome = state
        .bridge
        .log_out_api_device(&view)
        .await
        .map_err(DeviceApiError::internal)?
        .ok_or_else(not_logged_in)?;
    Ok(success(
        "logged out",
        LogoutResults {
            device_id,
            unlinked: outcome == LoggedOut::Unlinked,
        },
    ))
}

#[derive(Serialize)]
struct ReconnectResults {
    device_id: String,
    /// `already_connected` or `reconnecting`.
    status: &'static str,
}

async fn reconnect(
    State(state): State<Arc<Provisioning>>,
    Extension(user): Extension<ApiUser>,
    Path(device_id): Path<String>,
) -> ApiResult {
    let view = find(&state, &user, &device_id).await?;
    let login = view.login.ok_or_else(not_logged_in)?;
    let status = match state.bridge.reconnect(&login.login).await {
        Reconnect::AlreadyConnected => "already_connected",
        Reconnect::Started => "reconnecting",
        Reconnect::Failed(why) => {
            return Err(DeviceApiError::new(
                StatusCode::BAD_GATEWAY,
                "RECONNECT_FAILED",
                why,
            ));
        }
    };
    Ok(success(
        "reconnect requested",
        ReconnectResults { device_id, status },
    ))
}
