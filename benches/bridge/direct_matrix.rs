//! The direct path to Synapse: the appservice itself sending as a ghost user, with no
//! bridge in between (the homeserver's own limit for the same events).

use serde_json::{Value, json};

pub struct DirectMatrix {
    http: reqwest::Client,
    base: String,
    as_token: String,
}

impl DirectMatrix {
    pub fn new(base: &str, as_token: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base.to_owned(),
            as_token: as_token.to_owned(),
        }
    }

    /// Sends a message event into `room` as `ghost`.
    pub async fn send(&self, room: &str, ghost: &str, txn: &str, content: Value) {
        let url = format!(
            "{}/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}",
            self.base,
            encode(room)
        );
        let response = self
            .http
            .put(url)
            .query(&[("user_id", ghost)])
            .bearer_auth(&self.as_token)
            .json(&content)
            .send()
            .await
            .expect("Synapse answers");
        assert!(
            response.status().is_success(),
            "a direct send failed: {}",
            response.status()
        );
    }

    /// Uploads `bytes` as `ghost`; returns the `mxc://`.
    pub async fn upload(&self, ghost: &str, bytes: Vec<u8>) -> String {
        let answer: Value = self
            .http
            .post(format!("{}/_matrix/media/v3/upload", self.base))
            .query(&[("user_id", ghost), ("filename", "picture.jpg")])
            .bearer_auth(&self.as_token)
            .header("content-type", "image/jpeg")
            .body(bytes)
            .send()
            .await
            .expect("Synapse answers")
            .json()
            .await
            .expect("an upload answer");
        answer["content_uri"]
            .as_str()
            .unwrap_or_else(|| panic!("a direct upload failed: {answer}"))
            .to_owned()
    }

    pub async fn send_text(&self, room: &str, ghost: &str, txn: &str, body: &str) {
        self.send(room, ghost, txn, json!({"msgtype": "m.text", "body": body}))
            .await;
    }

    /// Uploads a picture and sends it with `caption` as its body, as the bridge does.
    pub async fn send_picture(
        &self,
        room: &str,
        ghost: &str,
        txn: &str,
        bytes: Vec<u8>,
        caption: &str,
    ) {
        let size = bytes.len();
        let mxc = self.upload(ghost, bytes).await;
        let content = json!({
            "msgtype": "m.image",
            "body": caption,
            "filename": "picture.jpg",
            "url": mxc,
            "info": {"mimetype": "image/jpeg", "size": size, "w": 64, "h": 48},
        });
        self.send(room, ghost, txn, content).await;
    }
}

fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
