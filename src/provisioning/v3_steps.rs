//! The steps of the Matrix-style provisioning API's logins, as JSON (HTTP DTOs).

use serde::Serialize;

use super::v3_auth::MatrixError;
use crate::bridge::login::{LoginUpdate, Progress};
use http::StatusCode;

pub const QR_STEP: &str = "matrix-whatsapp.login.qr";
pub const PHONE_STEP: &str = "matrix-whatsapp.login.phone";
pub const CODE_STEP: &str = "matrix-whatsapp.login.code";
pub const COMPLETE_STEP: &str = "matrix-whatsapp.login.complete";
/// The field of the phone step.
pub const PHONE_FIELD: &str = "phone_number";

/// What a client is shown, and the step it answers next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    UserInput,
    DisplayAndWait,
    Complete,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepJson {
    pub login_id: String,
    #[serde(rename = "type")]
    pub kind: StepKind,
    pub step_id: &'static str,
    pub instructions: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_and_wait: Option<DisplayAndWait>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_input: Option<UserInput>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complete: Option<Complete>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DisplayAndWait {
    /// `qr` or `code`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub data: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct UserInput {
    pub fields: Vec<Field>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Field {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
}

#[derive(Debug, Clone, Serialize)]
pub struct Complete {
    pub user_login_id: String,
}

/// The step a flow's progress shows, or the error it ended with. None: nothing to show
/// yet.
pub fn step_of(login_id: &str, progress: &Progress) -> Option<Result<StepJson, MatrixError>> {
    let step = |kind: StepKind, step_id, instructions: String| StepJson {
        login_id: login_id.to_owned(),
        kind,
        step_id,
        instructions,
        display_and_wait: None,
        user_input: None,
        complete: None,
    };
    let shown = match progress.latest.as_ref()? {
        LoginUpdate::AskPhone => StepJson {
            user_input: Some(UserInput {
                fields: vec![Field {
                    kind: "phone_number",
                    id: PHONE_FIELD,
                    name: "Phone number",
                    description: "The WhatsApp account's number in international form, like +15551234567",
                }],
            }),
            ..step(
                StepKind::UserInput,
                PHONE_STEP,
                "Enter the phone number of your WhatsApp account.".into(),
            )
        },
        LoginUpdate::Qr { code, .. } => StepJson {
            display_and_wait: Some(DisplayAndWait {
                kind: "qr",
                data: code.clone(),
            }),
            ..step(
                StepKind::DisplayAndWait,
                QR_STEP,
                "Scan the QR code with WhatsApp on your phone: Settings → Linked devices → Link a device.".into(),
            )
        },
        LoginUpdate::PairCode { code, .. } => StepJson {
            display_and_wait: Some(DisplayAndWait {
                kind: "code",
                data: code.clone(),
            }),
            ..step(
                StepKind::DisplayAndWait,
                CODE_STEP,
                "On your phone: WhatsApp → Settings → Linked devices → Link a device → Link with phone number instead, and enter this code.".into(),
            )
        },
        LoginUpdate::Succeeded { phone } => StepJson {
            complete: Some(Complete {
                user_login_id: phone.digits().to_owned(),
            }),
            ..step(
                StepKind::Complete,
                COMPLETE_STEP,
                format!("Logged in as {phone}."),
            )
        },
        LoginUpdate::TimedOut => {
            return Some(Err(MatrixError::new(
                StatusCode::GONE,
                "FI.MAU.BRIDGE.LOGIN_TIMED_OUT",
                "the code was not used in time; start the login again",
            )));
        }
        LoginUpdate::Cancelled => {
            return Some(Err(MatrixError::new(
                StatusCode::GONE,
                "FI.MAU.BRIDGE.LOGIN_CANCELLED",
                "the login was cancelled",
            )));
        }
        LoginUpdate::Failed { reason } => {
            return Some(Err(MatrixError::new(
                StatusCode::BAD_GATEWAY,
                "M_UNKNOWN",
                format!("the login failed: {reason}"),
            )));
        }
    };
    Some(Ok(shown))
}
