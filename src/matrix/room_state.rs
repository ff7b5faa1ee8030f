//! Reading and writing a room's state as JSON content: names, topics, power levels,
//! and who is in the room.

use ruma::api::client::membership::joined_members;
use ruma::api::client::state::{get_state_event_for_key, send_state_event};
use ruma::events::{AnyStateEventContent, StateEventType};
use ruma::serde::Raw;
use ruma::{OwnedUserId, RoomId, UserId};
use serde_json::Value;

use super::client::{HomeserverClient, HomeserverError};

impl HomeserverClient {
    /// The content of a state event as `reader` sees it; None when the room has none.
    pub async fn state_content(
        &self,
        reader: &UserId,
        room: &RoomId,
        event_type: &str,
        state_key: &str,
    ) -> Result<Option<Value>, HomeserverError> {
        let request = get_state_event_for_key::v3::Request::new(
            room.to_owned(),
            StateEventType::from(event_type),
            state_key.to_owned(),
        );
        match self.send(reader, request).await {
            Ok(response) => serde_json::from_str(response.event_or_content.get())
                .map(Some)
                .map_err(|err| HomeserverError::BadResponse {
                    endpoint: "get_state_event_for_key".into(),
                    detail: err.to_string(),
                }),
            Err(err) if err.errcode() == Some("M_NOT_FOUND") => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Sets a state event's content as `sender`.
    pub async fn set_state(
        &self,
        sender: &UserId,
        room: &RoomId,
        event_type: &str,
        state_key: &str,
        content: &Value,
    ) -> Result<(), HomeserverError> {
        let build = |detail: String| HomeserverError::Build {
            endpoint: "send_state_event".into(),
            detail,
        };
        let raw = serde_json::value::to_raw_value(content).map_err(|err| build(err.to_string()))?;
        let request = send_state_event::v3::Request::new_raw(
            room.to_owned(),
            StateEventType::from(event_type),
            state_key.to_owned(),
            Raw::<AnyStateEventContent>::from_json(raw),
        );
        self.send(sender, request).await.map(drop)
    }

    /// Who is joined to the room, as `reader` (a member) sees it.
    pub async fn joined_members(
        &self,
        reader: &UserId,
        room: &RoomId,
    ) -> Result<Vec<OwnedUserId>, HomeserverError> {
        let request = joined_members::v3::Request::new(room.to_owned());
        Ok(self
            .send(reader, request)
            .await?
            .joined
            .into_keys()
            .collect())
    }
}
