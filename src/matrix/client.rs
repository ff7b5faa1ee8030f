//! The homeserver client: sends any typed ruma request as the bot or as a ghost. The
//! identity is an argument of every call, never state of the client.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, StatusCode};
use ruma::UserId;
use ruma::api::auth_scheme::{AuthScheme, SendAccessToken};
use ruma::api::path_builder::{PathBuilder, SinglePath, VersionHistory};
use ruma::api::{
    AppserviceUserIdentity, IncomingResponseExt, OutgoingRequest, OutgoingRequestAppserviceExt,
    SupportedVersions,
};
use serde::Deserialize;

use super::retry::{Failure, RetryPolicy};
use crate::telemetry::{self, Event};

#[derive(Debug, thiserror::Error)]
pub enum HomeserverError {
    #[error("cannot reach the homeserver at {url}: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the homeserver refused {endpoint} with {status} {errcode}: {message}")]
    Matrix {
        endpoint: String,
        status: StatusCode,
        errcode: String,
        message: String,
    },
    #[error("the homeserver's answer to {endpoint} is not what the Matrix API specifies: {detail}")]
    BadResponse { endpoint: String, detail: String },
    #[error("cannot build the request for {endpoint}: {detail}")]
    Build { endpoint: String, detail: String },
}

impl HomeserverError {
    /// The Matrix error code, when the homeserver gave one.
    pub fn errcode(&self) -> Option<&str> {
        match self {
            Self::Matrix { errcode, .. } => Some(errcode),
            _ => None,
        }
    }
}

/// Picks the endpoint path for the homeserver's versions, whatever kind of path the
/// endpoint has.
pub trait PathInput: PathBuilder {
    fn path_input(versions: &SupportedVersions) -> Self::Input<'_>;
}

impl PathInput for SinglePath {
    fn path_input(_: &SupportedVersions) -> Self::Input<'_> {}
}

impl PathInput for VersionHistory {
    fn path_input(versions: &SupportedVersions) -> Self::Input<'_> {
        Cow::Borrowed(versions)
    }
}

/// Connections to the homeserver kept open while idle, and for how long.
const IDLE_CONNECTIONS: usize = 16;
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct HomeserverClient {
    http: reqwest::Client,
    base_url: String,
    as_token: String,
    versions: SupportedVersions,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
struct VersionsBody {
    versions: Vec<String>,
    #[serde(default)]
    unstable_features: BTreeMap<String, bool>,
}

#[derive(Deserialize)]
struct ErrorBody {
    errcode: Option<String>,
    error: Option<String>,
    retry_after_ms: Option<u64>,
}

impl HomeserverClient {
    /// Checks that `base_url` is a Matrix homeserver (its `/versions`) and returns a client
    /// for it.
    pub async fn connect(
        base_url: &str,
        as_token: &str,
        timeout: Duration,
        retry: RetryPolicy,
    ) -> Result<Self, HomeserverError> {
        let base_url = base_url.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            // A burst (many chats at once) opens many connections; afterwards a few
            // stay ready and the rest close, instead of all lingering.
            .pool_max_idle_per_host(IDLE_CONNECTIONS)
            .pool_idle_timeout(IDLE_CONNECTION_TIMEOUT)
            .user_agent(concat!("matrix-whatsapp/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| HomeserverError::Build {
                endpoint: "the HTTP client".into(),
                detail: err.to_string(),
            })?;
        let mut client = Self {
            http,
            base_url,
            as_token: as_token.to_owned(),
            versions: SupportedVersions::from_parts(&[], &BTreeMap::new()),
            retry,
        };
        let request = http::Request::builder()
            .method(Method::GET)
            .uri(format!("{}/_matrix/client/versions", client.base_url))
            .body(Vec::new())
            .map_err(|err| HomeserverError::Build {
                endpoint: "/versions".into(),
                detail: err.to_string(),
            })?;
        let (_, body) = client.execute("/_matrix/client/versions", &request).await?;
        let parsed: VersionsBody =
            serde_json::from_slice(&body).map_err(|err| HomeserverError::BadResponse {
                endpoint: "/_matrix/client/versions".into(),
                detail: format!("{err}; is {} really a Matrix homeserver?", client.base_url),
            })?;
        client.versions =
            SupportedVersions::from_parts(&parsed.versions, &parsed.unstable_features);
        if client.versions.versions.is_empty() {
            return Err(HomeserverError::BadResponse {
                endpoint: "/_matrix/client/versions".into(),
                detail: format!(
                    "it lists no Matrix version this bridge knows: {:?}",
                    parsed.versions
                ),
            });
        }
        Ok(client)
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The same homeserver through another appservice's token (double puppeting: an
    /// appservice whose namespace covers the real users).
    pub fn with_as_token(&self, as_token: &str) -> Self {
        Self {
            as_token: as_token.to_owned(),
            ..self.clone()
        }
    }

    /// Sends `request` as `identity` (the bot or a ghost). Timestamp massaging (`?ts=`)
    /// comes with the request types that support it (their `timestamp` field).
    pub async fn send<R>(
        &self,
        identity: &UserId,
        request: R,
    ) -> Result<R::IncomingResponse, HomeserverError>
    where
        R: OutgoingRequest,
        R::PathBuilder: PathInput,
        for<'a> R::Authentication: AuthScheme<Input<'a> = SendAccessToken<'a>>,
    {
        let endpoint = std::any::type_name::<R>()
            .trim_start_matches("ruma_client_api::")
            .trim_end_matches("::Request")
            .to_owned();
        let http_request: http::Request<Vec<u8>> = request
            .try_into_http_request_with_identity(
                &self.base_url,
                SendAccessToken::Always(&self.as_token),
                AppserviceUserIdentity::new(identity),
                R::PathBuilder::path_input(&self.versions),
            )
            .map_err(|err| HomeserverError::Build {
                endpoint: endpoint.clone(),
                detail: err.to_string(),
            })?;
        let (response, body) = self.execute(&endpoint, &http_request).await?;
        let response = rebuild(response, &body);
        R::IncomingResponse::try_from_http_response(response).map_err(|err| {
            HomeserverError::BadResponse {
                endpoint,
                detail: err.to_string(),
            }
        })
    }

    /// Runs one request with retries; returns the successful response's head and body.
    async fn execute(
        &self,
        endpoint: &str,
        request: &http::Request<Vec<u8>>,
    ) -> Result<(http::response::Parts, Bytes), HomeserverError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (failure, error) = match self.attempt(request).await {
                Ok((parts, body)) if parts.status.is_success() => return Ok((parts, body)),
                Ok((parts, body)) => classify_status(endpoint, parts, &body),
                Err(err) => {
                    let failure = if err.is_connect() {
                        Failure::Connect
                    } else {
                        Failure::Transport
                    };
                    let detail = error_chain(&err);
                    (
                        failure,
                        HomeserverError::Unreachable {
                            url: self.base_url.clone(),
                            detail,
                        },
                    )
                }
            };
            let jitter = rand::random::<f64>();
            let Some(wait) = self
                .retry
                .next_delay(request.method(), failure, attempt, jitter)
            else {
                return Err(error);
            };
            telemetry::emit(Event::HomeserverRetry {
                attempt,
                reason: &error.to_string(),
                wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
            });
            tokio::time::sleep(wait).await;
        }
    }

    async fn attempt(
        &self,
        request: &http::Request<Vec<u8>>,
    ) -> Result<(http::response::Parts, Bytes), reqwest::Error> {
        let mut builder = self
            .http
            .request(request.method().clone(), request.uri().to_string());
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        let response = builder.body(request.body().clone()).send().await?;
        let mut head = http::Response::builder().status(response.status());
        for (name, value) in response.headers() {
            head = head.header(name, value);
        }
        let body = response.bytes().await?;
        let parts = match head.body(()) {
            Ok(response) => response.into_parts().0,
            Err(_) => http::Response::new(()).into_parts().0,
        };
        Ok((parts, body))
    }
}

fn classify_status(
    endpoint: &str,
    parts: http::response::Parts,
    body: &[u8],
) -> (Failure, HomeserverError) {
    let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
    let errcode = parsed
        .as_ref()
        .and_then(|body| body.errcode.clone())
        .unwrap_or_else(|| "M_UNKNOWN".into());
    let message = parsed
        .as_ref()
        .and_then(|body| body.error.clone())
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned());
    let failure = if parts.status == StatusCode::TOO_MANY_REQUESTS || errcode == "M_LIMIT_EXCEEDED"
    {
        let header_advice = parts
            .headers
            .get(http::header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok())
            .map(Duration::from_secs);
        let advice = parsed
            .as_ref()
            .and_then(|body| body.retry_after_ms)
            .map(Duration::from_millis)
            .or(header_advice);
        Failure::RateLimited(advice)
    } else {
        Failure::Status(parts.status)
    };
    let error = HomeserverError::Matrix {
        endpoint: endpoint.to_owned(),
        status: parts.status,
        errcode,
        message,
    };
    (failure, error)
}

fn rebuild(parts: http::response::Parts, body: &Bytes) -> http::Response<&[u8]> {
    http::Response::from_parts(parts, body.as_ref())
}

fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
