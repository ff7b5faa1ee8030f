//! Clients of the bridge's provisioning APIs, as a dashboard uses them: the device API
//! (HTTP Basic), its server-sent events, and the Matrix-style API (Bearer + ?user_id=).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::mpsc;

use super::bridge::{DEVICE_API_PASSWORD, PROVISIONING_SECRET, TestEnv};

/// The device API as one credential sees it.
#[derive(Clone)]
pub struct DeviceApi {
    pub base: String,
    client: reqwest::Client,
    pub username: String,
    pub password: String,
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl DeviceApi {
    pub fn new(env: &TestEnv, username: &str) -> Self {
        Self::with_password(env, username, DEVICE_API_PASSWORD)
    }

    pub fn with_password(env: &TestEnv, username: &str, password: &str) -> Self {
        Self {
            base: env.bridge_url(),
            client: reqwest::Client::new(),
            username: username.into(),
            password: password.into(),
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .basic_auth(&self.username, Some(&self.password))
            .timeout(Duration::from_secs(120));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the device API answers");
        answer(response).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str) -> Answer {
        self.call(Method::POST, path, None).await
    }

    /// Follows `/devices/{device}/login/events` in the background.
    pub async fn follow(&self, device: &str) -> Follower {
        let response = self
            .client
            .get(format!("{}/devices/{device}/login/events", self.base))
            .basic_auth(&self.username, Some(&self.password))
            .send()
            .await
            .expect("the event stream answers");
        assert_eq!(response.status(), StatusCode::OK, "the event stream opens");
        assert_eq!(
            response
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok()),
            Some("text/event-stream")
        );
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(read_events(response, tx));
        Follower { events: rx }
    }
}

pub async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("a body").to_vec();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Answer {
        status,
        headers,
        body,
        bytes,
    }
}

/// `(event name, data)` of each server-sent event; the channel closes with the stream.
async fn read_events(mut response: reqwest::Response, tx: mpsc::UnboundedSender<(String, Value)>) {
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let mut name = String::from("message");
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("event:") {
                    name = value.trim().to_owned();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push_str(value.trim_start());
                }
            }
            if data.is_empty() {
                continue; // a keep-alive comment
            }
            let data = serde_json::from_str(&data).expect("event data is JSON");
            if tx.send((name, data)).is_err() {
                return;
            }
        }
    }
}

pub struct Follower {
    events: mpsc::UnboundedReceiver<(String, Value)>,
}

impl Follower {
    /// The next event named `name`, skipping others; panics after `within`.
    pub async fn next(&mut self, name: &str, within: Duration) -> Value {
        let wait = async {
            while let Some((event, data)) = self.events.recv().await {
                if event == name {
                    return data;
                }
            }
            panic!("the event stream ended before a `{name}` event");
        };
        tokio::time::timeout(within, wait)
            .await
            .unwrap_or_else(|_| panic!("no `{name}` event within {within:?}"))
    }

    /// Whether the stream has ended (after the flow's last event).
    pub async fn ends_within(&mut self, within: Duration) -> bool {
        let drain = async { while self.events.recv().await.is_some() {} };
        tokio::time::timeout(within, drain).await.is_ok()
    }
}

/// The Matrix-style provisioning API, acting for one user.
#[derive(Clone)]
pub struct ProvisionApi {
    pub base: String,
    client: reqwest::Client,
    pub user_id: String,
    pub token: Option<String>,
}

impl ProvisionApi {
    pub fn new(env: &TestEnv, user_id: &str) -> Self {
        Self {
            base: format!("{}/_matrix/provision/v3", env.bridge_url()),
            client: reqwest::Client::new(),
            user_id: user_id.into(),
            token: Some(PROVISIONING_SECRET.into()),
        }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let separator = if path.contains('?') { '&' } else { '?' };
        let url = format!(
            "{}{path}{separator}user_id={}",
            self.base,
            urlencode(&self.user_id)
        );
        let mut request = self
            .client
            .request(method, url)
            .timeout(Duration::from_secs(180));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request.send().await.expect("the provisioning API answers")).await
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Option<Value>) -> Answer {
        self.call(Method::POST, path, body).await
    }
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
