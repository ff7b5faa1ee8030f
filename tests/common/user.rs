//! A human on Matrix, speaking the client-server API as any client would.

use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha1::Sha1;

use super::synapse::SHARED_SECRET;

pub struct MatrixUser {
    pub user_id: String,
    token: String,
    base: String,
    http: reqwest::Client,
}

impl MatrixUser {
    /// Registers through Synapse's shared-secret admin API.
    pub async fn register(base: &str, name: &str) -> Self {
        let http = reqwest::Client::new();
        let url = format!("{base}/_synapse/admin/v1/register");
        let nonce: Value = http
            .get(&url)
            .send()
            .await
            .expect("nonce")
            .json()
            .await
            .expect("nonce json");
        let nonce = nonce["nonce"].as_str().expect("nonce field").to_owned();
        let password = "correct horse battery staple";
        let mut mac = Hmac::<Sha1>::new_from_slice(SHARED_SECRET.as_bytes()).expect("hmac key");
        mac.update(format!("{nonce}\0{name}\0{password}\0notadmin").as_bytes());
        let mac = hex::encode(mac.finalize().into_bytes());
        let body = json!({"nonce": nonce, "username": name, "password": password, "admin": false, "mac": mac});
        let response: Value = http
            .post(&url)
            .json(&body)
            .send()
            .await
            .expect("register")
            .json()
            .await
            .expect("json");
        let token = response["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("registration failed: {response}"));
        Self {
            user_id: response["user_id"].as_str().expect("user_id").to_owned(),
            token: token.to_owned(),
            base: base.to_owned(),
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("homeserver answers");
        let status = response.status();
        let json: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{path} failed with {status}: {json}");
        json
    }

    /// The user's global account data of one type; None when there is none.
    pub async fn account_data(&self, event_type: &str) -> Option<Value> {
        let user = encode(&self.user_id);
        self.get_optional(&format!(
            "/_matrix/client/v3/user/{user}/account_data/{event_type}"
        ))
        .await
    }

    /// GETs `path`: None when the homeserver has nothing there (404).
    async fn get_optional(&self, path: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("homeserver answers");
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return None;
        }
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.ok()
    }

    /// Creates a direct chat with `other` and returns its room ID.
    pub async fn create_dm(&self, other: &str) -> String {
        self.create_room(
            json!({"invite": [other], "is_direct": true, "preset": "trusted_private_chat"}),
        )
        .await
    }

    /// Invites `user` into the room.
    pub async fn invite(&self, room: &str, user: &str) {
        let path = format!("/_matrix/client/v3/rooms/{}/invite", encode(room));
        self.call(
            reqwest::Method::POST,
            &path,
            Some(json!({ "user_id": user })),
        )
        .await;
    }

    /// Creates a private group room with `invitees` and returns its room ID.
    pub async fn create_group(&self, invitees: &[&str]) -> String {
        self.create_room(json!({"invite": invitees, "preset": "private_chat", "name": "group"}))
            .await
    }

    async fn create_room(&self, body: Value) -> String {
        let path = "/_matrix/client/v3/createRoom";
        let response = self.call(reqwest::Method::POST, path, Some(body)).await;
        response["room_id"].as_str().expect("room_id").to_owned()
    }

    pub async fn send_text(&self, room: &str, body: &str) -> String {
        let txn = format!("t{}", rand::random::<u64>());
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
            encode(room)
        );
        let response = self
            .call(
                reqwest::Method::PUT,
                &path,
                Some(json!({"msgtype": "m.text", "body": body})),
            )
            .await;
        response["event_id"].as_str().expect("event_id").to_owned()
    }

    /// Sends any message-like event; returns its ID.
    pub async fn send_event(&self, room: &str, event_type: &str, content: Value) -> String {
        let txn = format!("t{}", rand::random::<u64>());
        let path = format!(
            "/_matrix/client/v3/rooms/{}/send/{event_type}/{txn}",
            encode(room)
        );
        let response = self.call(reqwest::Method::PUT, &path, Some(content)).await;
        response["event_id"].as_str().expect("event_id").to_owned()
    }

    pub async fn redact(&self, room: &str, event: &str) -> String {
        let txn = format!("r{}", rand::random::<u64>());
        let path = format!(
            "/_matrix/client/v3/rooms/{}/redact/{}/{txn}",
            encode(room),
            encode(event)
        );
        let response = self
            .call(reqwest::Method::PUT, &path, Some(json!({})))
            .await;
        response["event_id"].as_str().expect("event_id").to_owned()
    }

    /// Every event of the room, oldest first.
    pub async fn timeline(&self, room: &str) -> Vec<Value> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/messages?dir=f&limit=1000",
            encode(room)
        );
        let response = self.call(reqwest::Method::GET, &path, None).await;
        response["chunk"].as_array().cloned().unwrap_or_default()
    }

    /// The bodies of `sender`'s messages in the room, oldest first.
    pub async fn messages_from(&self, room: &str, sender: &str) -> Vec<String> {
        self.timeline(room)
            .await
            .into_iter()
            .filter(|event| event["type"] == "m.room.message" && event["sender"] == sender)
            .filter_map(|event| event["content"]["body"].as_str().map(str::to_owned))
            .collect()
    }

    /// Waits until `sender` has posted a message whose body contains `needle`; returns it.
    pub async fn wait_for_message(&self, room: &str, sender: &str, needle: &str) -> String {
        self.wait_for_message_within(room, sender, needle, Duration::from_secs(30))
            .await
    }

    pub async fn wait_for_message_within(
        &self,
        room: &str,
        sender: &str,
        needle: &str,
        timeout: Duration,
    ) -> String {
        super::wait_for(
            &format!("a message from {sender} containing {needle:?}"),
            timeout,
            || async {
                self.messages_from(room, sender)
                    .await
                    .into_iter()
                    .find(|body| body.contains(needle))
            },
        )
        .await
    }

    /// `user`'s membership in the room ("join", "leave", …), if any.
    pub async fn membership(&self, room: &str, user: &str) -> Option<String> {
        let member = self.state(room, "m.room.member", user).await?;
        member["membership"].as_str().map(str::to_owned)
    }

    /// A GET whose answer is None when the homeserver says no.
    async fn get_if_found(&self, path: &str) -> Option<Value> {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("homeserver answers");
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    pub async fn wait_for_membership(&self, room: &str, user: &str, membership: &str) {
        super::wait_for(
            &format!("{user} to be {membership} in {room}"),
            Duration::from_secs(30),
            || async {
                (self.membership(room, user).await.as_deref() == Some(membership)).then_some(())
            },
        )
        .await
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

impl MatrixUser {
    /// Rooms the user is invited to, with the invite's `is_direct`.
    pub async fn invites(&self) -> Vec<(String, bool)> {
        // Synapse caches identical sync requests for a while; a fresh filter each time
        // makes every call a new look.
        let filter = encode(&format!(
            r#"{{"room":{{"timeline":{{"limit":{}}}}}}}"#,
            1 + rand::random::<u16>() % 1000
        ));
        let sync = self
            .call(
                reqwest::Method::GET,
                &format!("/_matrix/client/v3/sync?timeout=0&filter={filter}"),
                None,
            )
            .await;
        let mut invites = Vec::new();
        if let Some(rooms) = sync["rooms"]["invite"].as_object() {
            for (room, invite) in rooms {
                let is_direct = invite["invite_state"]["events"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .any(|event| {
                        event["type"] == "m.room.member"
                            && event["state_key"] == self.user_id.as_str()
                            && event["content"]["is_direct"] == true
                    });
                invites.push((room.clone(), is_direct));
            }
        }
        invites
    }

    /// One `/sync` long-poll of room timelines (waits up to `timeout_ms` for something
    /// new after `since`); returns the answer, whose `next_batch` is the next `since`.
    pub async fn sync(&self, since: Option<&str>, timeout_ms: u64) -> Value {
        let filter = encode(
            r#"{"presence":{"not_types":["*"]},"account_data":{"not_types":["*"]},"room":{"timeline":{"limit":1000},"state":{"lazy_load_members":true},"ephemeral":{"not_types":["*"]}}}"#,
        );
        let since = since
            .map(|token| format!("&since={}", encode(token)))
            .unwrap_or_default();
        self.call(
            reqwest::Method::GET,
            &format!("/_matrix/client/v3/sync?timeout={timeout_ms}&filter={filter}{since}"),
            None,
        )
        .await
    }

    /// Joins every invite until `joined` holds `count` rooms; fails after `within`.
    pub async fn join_invites(&self, joined: &mut Vec<String>, count: usize, within: Duration) {
        let deadline = tokio::time::Instant::now() + within;
        while joined.len() < count {
            assert!(
                tokio::time::Instant::now() < deadline,
                "only {} of {count} portal invites came",
                joined.len()
            );
            for (room, _) in self.invites().await {
                if !joined.contains(&room) {
                    self.join(&room).await;
                    joined.push(room);
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Marks `event` read with a public read receipt.
    pub async fn read_receipt(&self, room: &str, event: &str) {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/receipt/m.read/{}",
            encode(room),
            encode(event)
        );
        self.call(reqwest::Method::POST, &path, Some(json!({})))
            .await;
    }

    /// Starts (for 30 s) or stops typing in the room.
    pub async fn typing(&self, room: &str, typing: bool) {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/typing/{}",
            encode(room),
            encode(&self.user_id)
        );
        let body = if typing {
            json!({"typing": true, "timeout": 30000})
        } else {
            json!({"typing": false})
        };
        self.call(reqwest::Method::PUT, &path, Some(body)).await;
    }

    /// Who is typing in a joined room now.
    pub async fn typing_users(&self, room: &str) -> Vec<String> {
        self.ephemeral(room, "m.typing")
            .await
            .first()
            .and_then(|event| event["content"]["user_ids"].as_array().cloned())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|user| user.as_str().map(str::to_owned))
            .collect()
    }

    /// The event `user` has publicly read up to in a joined room, if any.
    pub async fn read_up_to(&self, room: &str, user: &str) -> Option<String> {
        let receipts = self.ephemeral(room, "m.receipt").await;
        receipts.iter().find_map(|receipt| {
            receipt["content"]
                .as_object()?
                .iter()
                .find_map(|(event, by_type)| {
                    by_type["m.read"].get(user).is_some().then(|| event.clone())
                })
        })
    }

    /// The room's ephemeral events of one type, from a fresh initial sync.
    async fn ephemeral(&self, room: &str, event_type: &str) -> Vec<Value> {
        let filter = encode(&format!(
            r#"{{"room":{{"rooms":["{room}"],"timeline":{{"limit":{}}}}}}}"#,
            1 + rand::random::<u16>() % 1000
        ));
        let sync = self
            .call(
                reqwest::Method::GET,
                &format!("/_matrix/client/v3/sync?timeout=0&filter={filter}"),
                None,
            )
            .await;
        sync["rooms"]["join"][room]["ephemeral"]["events"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|event| event["type"] == event_type)
            .cloned()
            .collect()
    }

    /// The user's tags on a room (`m.favourite`, `m.lowpriority`, …).
    pub async fn room_tags(&self, room: &str) -> Vec<String> {
        let path = format!(
            "/_matrix/client/v3/user/{}/rooms/{}/tags",
            encode(&self.user_id),
            encode(room)
        );
        let response = self.call(reqwest::Method::GET, &path, None).await;
        let mut tags: Vec<String> = response["tags"]
            .as_object()
            .map(|tags| tags.keys().cloned().collect())
            .unwrap_or_default();
        tags.sort();
        tags
    }

    /// The user's push rule for a room, if there is one.
    pub async fn room_push_rule(&self, room: &str) -> Option<Value> {
        self.get_optional(&format!(
            "/_matrix/client/v3/pushrules/global/room/{}",
            encode(room)
        ))
        .await
    }

    /// A user's public profile (`displayname`, `avatar_url`).
    pub async fn profile(&self, user: &str) -> Value {
        let path = format!("/_matrix/client/v3/profile/{}", encode(user));
        self.call(reqwest::Method::GET, &path, None).await
    }

    pub async fn join(&self, room: &str) {
        let path = format!("/_matrix/client/v3/join/{}", encode(room));
        self.call(reqwest::Method::POST, &path, Some(json!({})))
            .await;
    }

    /// One state event's content, if set.
    pub async fn state(&self, room: &str, event_type: &str, state_key: &str) -> Option<Value> {
        let path = format!(
            "/_matrix/client/v3/rooms/{}/state/{event_type}/{}",
            encode(room),
            encode(state_key)
        );
        self.get_if_found(&path).await
    }

    /// Uploads a file to the media repository; returns its `mxc://`.
    pub async fn upload(&self, bytes: Vec<u8>, content_type: &str) -> String {
        let response: Value = self
            .http
            .post(format!("{}/_matrix/media/v3/upload", self.base))
            .bearer_auth(&self.token)
            .header("Content-Type", content_type)
            .body(bytes)
            .send()
            .await
            .expect("homeserver answers")
            .json()
            .await
            .expect("upload answer");
        response["content_uri"]
            .as_str()
            .expect("an mxc URI")
            .to_owned()
    }

    /// Downloads an `mxc://server/id` through the authenticated media API.
    pub async fn download(&self, mxc: &str) -> Vec<u8> {
        let path = mxc.strip_prefix("mxc://").expect("an mxc URI");
        let response = self
            .http
            .get(format!(
                "{}/_matrix/client/v1/media/download/{path}",
                self.base
            ))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("homeserver answers");
        assert!(
            response.status().is_success(),
            "download failed: {}",
            response.status()
        );
        response.bytes().await.expect("media").to_vec()
    }
}
