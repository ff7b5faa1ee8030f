//! HTTP Basic authentication of the device API and the login page. Each credential is
//! bound to one Matrix user; all of them are compared, in constant time, on every request.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, StatusCode, header};
use ruma::{OwnedUserId, UserId};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::Provisioning;
use super::envelope::DeviceApiError;
use crate::config::DeviceApiCredential;

/// The Matrix user a request acts for, once authenticated.
#[derive(Debug, Clone)]
pub struct ApiUser(pub OwnedUserId);

#[derive(Debug, Default)]
pub struct Credentials {
    /// SHA-256 of `username:password`, and the user.
    entries: Vec<([u8; 32], OwnedUserId)>,
}

fn digest(username: &str, password: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(username.as_bytes());
    hasher.update(b":");
    hasher.update(password.as_bytes());
    hasher.finalize().into()
}

impl Credentials {
    /// Config validation has checked every user ID; one that does not parse is left out.
    pub fn from_config(config: &BTreeMap<String, DeviceApiCredential>) -> Self {
        let entries = config
            .iter()
            .filter_map(|(username, credential)| {
                let user = UserId::parse(credential.user_id.as_str()).ok()?;
                Some((digest(username, &credential.password), user))
            })
            .collect();
        Self { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The user of the credential in an `Authorization: Basic …` value.
    fn check(&self, authorization: Option<&HeaderValue>) -> Option<OwnedUserId> {
        let encoded = authorization?.to_str().ok()?.strip_prefix("Basic ")?;
        let decoded = STANDARD.decode(encoded.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (username, password) = text.split_once(':')?;
        let presented = digest(username, password);
        // Every entry is compared, so the time does not tell which one (nearly) matched.
        let mut found = None;
        for (expected, user) in &self.entries {
            if bool::from(expected.ct_eq(&presented)) {
                found = Some(user.clone());
            }
        }
        found
    }
}

fn unauthorized(message: &str) -> Response {
    let mut response =
        DeviceApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"matrix-whatsapp\", charset=\"UTF-8\""),
    );
    response
}

/// Lets a request through with its `ApiUser`, or answers 401/403/404.
pub async fn require(
    State(state): State<Arc<Provisioning>>,
    mut request: Request,
    next: Next,
) -> Response {
    if state.credentials.is_empty() {
        return DeviceApiError::new(
            StatusCode::NOT_FOUND,
            "DEVICE_API_DISABLED",
            "the device API is off: no credentials in provisioning.device_api",
        )
        .into_response();
    }
    let Some(user) = state
        .credentials
        .check(request.headers().get(header::AUTHORIZATION))
    else {
        return unauthorized("HTTP Basic credentials from provisioning.device_api are required");
    };
    if !state.bridge.may_log_in(&user) {
        return DeviceApiError::new(
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
            "the Matrix user of these credentials may not log in (bridge.permissions)",
        )
        .into_response();
    }
    request.extensions_mut().insert(ApiUser(user));
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn credentials() -> Credentials {
        let config = BTreeMap::from([(
            "dash".to_owned(),
            DeviceApiCredential {
                password: "p4ssw0rd-long-enough".into(),
                user_id: "@alice:example.com".into(),
            },
        )]);
        Credentials::from_config(&config)
    }

    fn header(raw: &str) -> HeaderValue {
        HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(raw))).expect("header")
    }

    #[test]
    fn the_right_pair_names_its_user_and_nothing_else_does() {
        let credentials = credentials();
        assert_eq!(
            credentials
                .check(Some(&header("dash:p4ssw0rd-long-enough")))
                .map(|user| user.to_string()),
            Some("@alice:example.com".into())
        );
        for wrong in [
            "dash:p4ssw0rd-long-enougH",
            "dash:",
            "Dash:p4ssw0rd-long-enough",
            "dashp4ssw0rd-long-enough",
            "",
        ] {
            assert_eq!(credentials.check(Some(&header(wrong))), None, "{wrong:?}");
        }
        assert_eq!(credentials.check(None), None);
        let bearer = HeaderValue::from_static("Bearer dash:p4ssw0rd-long-enough");
        assert_eq!(credentials.check(Some(&bearer)), None);
        let garbage = HeaderValue::from_static("Basic ###");
        assert_eq!(credentials.check(Some(&garbage)), None);
    }
}
