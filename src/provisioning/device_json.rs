//! What the device API says about a device and its login flow (HTTP DTOs, apart from the
//! bridge's own types).

use serde::Serialize;

use super::time::rfc3339;
use crate::bridge::connection::LinkState;
use crate::bridge::devices::DeviceView;
use crate::bridge::login::{LoginUpdate, Progress};

#[derive(Debug, Serialize)]
pub struct DeviceJson {
    pub device_id: String,
    pub name: String,
    pub created_at: String,
    /// `logged_out`, `logging_in` or `logged_in`.
    pub state: &'static str,
    pub is_logged_in: bool,
    pub is_connected: bool,
    /// The WhatsApp connection of a logged-in device (`connected`, `connecting`,
    /// `reconnecting`, …); null otherwise.
    pub connection: Option<&'static str>,
    /// The account's number: country code and number, digits only.
    pub phone: Option<String>,
    pub phone_last_seen: Option<String>,
    /// The running or last login flow of this device, if any.
    pub login: Option<ProgressJson>,
}

/// One step of a login flow, as the API, its event stream and the page see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ProgressJson {
    /// `starting`, `qr`, `pair_code`, `success`, `timeout`, `cancelled` or `failed`.
    pub event: &'static str,
    /// Increases with each step.
    pub seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_link: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rotation: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pair_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

pub fn connection_name(state: &LinkState) -> &'static str {
    match state {
        LinkState::Connecting => "connecting",
        LinkState::Connected => "connected",
        LinkState::Reconnecting { .. } => "reconnecting",
        LinkState::LoggedOut(_) => "logged_out_by_whatsapp",
        LinkState::TemporarilyBanned { .. } => "temporarily_banned",
        LinkState::ClientOutdated => "client_outdated",
        LinkState::Replaced => "replaced",
        LinkState::Refused { .. } => "refused",
    }
}

/// `qr_link_of(rotation)` builds the link of a QR image.
pub fn progress_json(progress: &Progress, qr_link_of: impl Fn(u32) -> String) -> ProgressJson {
    let mut json = ProgressJson {
        event: "starting",
        seq: progress.seq,
        qr_code: None,
        qr_link: None,
        rotation: None,
        pair_code: None,
        expires_at: None,
        phone: None,
        message: None,
    };
    match &progress.latest {
        None | Some(LoginUpdate::AskPhone) => {}
        Some(LoginUpdate::Qr {
            code,
            rotation,
            expires_at_ms,
        }) => {
            json.event = "qr";
            json.qr_code = Some(code.clone());
            json.qr_link = Some(qr_link_of(*rotation));
            json.rotation = Some(*rotation);
            json.expires_at = Some(rfc3339(*expires_at_ms));
        }
        Some(LoginUpdate::PairCode {
            code,
            expires_at_ms,
        }) => {
            json.event = "pair_code";
            json.pair_code = Some(code.clone());
            json.expires_at = Some(rfc3339(*expires_at_ms));
        }
        Some(LoginUpdate::Succeeded { phone }) => {
            json.event = "success";
            json.phone = Some(phone.digits().to_owned());
        }
        Some(LoginUpdate::TimedOut) => {
            json.event = "timeout";
            json.message = Some("the code was not used in time; start the login again".into());
        }
        Some(LoginUpdate::Cancelled) => {
            json.event = "cancelled";
        }
        Some(LoginUpdate::Failed { reason }) => {
            json.event = "failed";
            json.message = Some(reason.clone());
        }
    }
    json
}

pub fn device_json(
    view: &DeviceView,
    last_flow: Option<&Progress>,
    qr_link_of: impl Fn(u32) -> String,
) -> DeviceJson {
    let link = view.login.as_ref().and_then(|login| login.link.as_ref());
    let state = match (&view.login, &view.flow) {
        (Some(_), _) => "logged_in",
        (None, Some(_)) => "logging_in",
        (None, None) => "logged_out",
    };
    DeviceJson {
        device_id: view.row.device_id.clone(),
        name: view.row.name.clone(),
        created_at: rfc3339(view.row.created_at_ms),
        state,
        is_logged_in: view.login.is_some(),
        is_connected: link == Some(&LinkState::Connected),
        connection: link.map(connection_name),
        phone: view.login.as_ref().map(|login| login.login.phone.clone()),
        phone_last_seen: view
            .login
            .as_ref()
            .and_then(|login| login.phone_seen_ms)
            .map(rfc3339),
        login: last_flow.map(|progress| progress_json(progress, qr_link_of)),
    }
}
