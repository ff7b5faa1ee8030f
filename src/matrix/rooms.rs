//! Creating and filling the rooms that mirror WhatsApp chats.

use ruma::api::client::alias::get_alias;
use ruma::api::client::membership::invite_user::{self, v3::InvitationRecipient};
use ruma::api::client::message::send_message_event;
use ruma::api::client::room::create_room;
use ruma::api::client::room::get_room_event;
use ruma::events::AnyInitialStateEvent;
use ruma::events::MessageLikeEventContent;
use ruma::events::room::message::RoomMessageEventContent;
use ruma::serde::Raw;
use ruma::{
    EventId, MilliSecondsSinceUnixEpoch, OwnedEventId, OwnedRoomAliasId, OwnedRoomId,
    OwnedTransactionId, OwnedUserId, RoomId, UInt, UserId, int,
};
use serde_json::json;

use super::client::{HomeserverClient, HomeserverError};

/// What a new portal room is.
#[derive(Debug, Clone)]
pub struct NewRoom {
    pub name: Option<String>,
    pub topic: Option<String>,
    /// Invited as the room's person; a direct chat marks the invite `is_direct`.
    pub owner: OwnedUserId,
    pub is_direct: bool,
    /// The bridge state (`m.bridge`): protocol and channel.
    pub protocol: &'static str,
    pub channel_id: String,
    pub channel_name: String,
    /// The room's fixed private alias: creating the same portal again finds this room.
    pub alias: OwnedRoomAliasId,
    /// The room this one replaces (its history continues here), if any.
    pub predecessor: Option<OwnedRoomId>,
}

fn raw_state(
    event_type: &str,
    state_key: &str,
    content: serde_json::Value,
) -> Option<Raw<AnyInitialStateEvent>> {
    let value = json!({ "type": event_type, "state_key": state_key, "content": content });
    serde_json::value::to_raw_value(&value)
        .ok()
        .map(Raw::from_json)
}

impl HomeserverClient {
    /// Creates a private room as `creator`, with the person invited and the bridge state
    /// set; the creator and the person can moderate it. Idempotent: when the room's alias
    /// is taken, an earlier call made the room (perhaps just before a crash) and that room
    /// is the answer.
    pub async fn create_portal_room(
        &self,
        creator: &UserId,
        room: &NewRoom,
    ) -> Result<OwnedRoomId, HomeserverError> {
        let mut request = create_room::v3::Request::new();
        request.preset = Some(create_room::v3::RoomPreset::PrivateChat);
        request.name = room.name.clone();
        request.topic = room.topic.clone();
        // The person is invited only once the room holds the alias: a creation that
        // loses a race for the alias (a retry after a crash while the first request was
        // still running) leaves an empty room nobody is invited to.
        request.is_direct = room.is_direct;
        let bridge = json!({
            "bridgebot": creator,
            "protocol": { "id": room.protocol, "displayname": "WhatsApp" },
            "channel": { "id": room.channel_id, "displayname": room.channel_name },
        });
        let state_key = format!("{}/{}", room.protocol, room.channel_id);
        request.initial_state = ["m.bridge", "uk.half-shot.bridge"]
            .iter()
            .filter_map(|event_type| raw_state(event_type, &state_key, bridge.clone()))
            .collect();
        // The creator has full power anyway (room version 12 refuses it listed here).
        let mut power = create_room::RoomPowerLevelsContentOverride::new();
        power.users.insert(room.owner.clone(), int!(100));
        request.power_level_content_override = Raw::new(&power).ok();
        request.room_alias_name = Some(room.alias.alias().to_owned());
        if let Some(predecessor) = &room.predecessor {
            let content = json!({ "predecessor": { "room_id": predecessor } });
            request.creation_content = serde_json::value::to_raw_value(&content)
                .ok()
                .map(Raw::from_json);
        }
        let room_id = match self.send(creator, request).await {
            Ok(created) => created.room_id,
            Err(err) if err.errcode() == Some("M_ROOM_IN_USE") => {
                self.send(creator, get_alias::v3::Request::new(room.alias.clone()))
                    .await?
                    .room_id
            }
            Err(err) => return Err(err),
        };
        self.invite_person(creator, &room_id, &room.owner, room.is_direct)
            .await?;
        Ok(room_id)
    }

    /// Invites the room's person, marking a direct chat as one (`is_direct`); one who is
    /// in the room already is fine.
    async fn invite_person(
        &self,
        creator: &UserId,
        room: &RoomId,
        person: &UserId,
        is_direct: bool,
    ) -> Result<(), HomeserverError> {
        if !is_direct {
            return self.invite(creator, room, person).await;
        }
        let content = json!({ "membership": "invite", "is_direct": true });
        match self
            .set_state(creator, room, "m.room.member", person.as_str(), &content)
            .await
        {
            Ok(()) => Ok(()),
            Err(err) if err.to_string().contains("already in the room") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Closes `old` for good: its tombstone points clients to `replacement`.
    pub async fn tombstone(
        &self,
        creator: &UserId,
        old: &RoomId,
        replacement: &RoomId,
        body: &str,
    ) -> Result<(), HomeserverError> {
        let content = json!({ "body": body, "replacement_room": replacement });
        self.set_state(creator, old, "m.room.tombstone", "", &content)
            .await
    }

    /// Points the room's bridge state at another channel ID (the same chat, by a new
    /// address): the state under the old ID is emptied, the new one set.
    pub async fn move_bridge_channel(
        &self,
        creator: &UserId,
        room: &RoomId,
        protocol: &str,
        old_id: &str,
        new_id: &str,
        channel_name: &str,
    ) -> Result<(), HomeserverError> {
        let bridge = json!({
            "bridgebot": creator,
            "protocol": { "id": protocol, "displayname": "WhatsApp" },
            "channel": { "id": new_id, "displayname": channel_name },
        });
        for event_type in ["m.bridge", "uk.half-shot.bridge"] {
            let new_key = format!("{protocol}/{new_id}");
            self.set_state(creator, room, event_type, &new_key, &bridge)
                .await?;
            let old_key = format!("{protocol}/{old_id}");
            self.set_state(creator, room, event_type, &old_key, &json!({}))
                .await?;
        }
        Ok(())
    }

    /// Invites `user`; one already in the room is fine.
    pub async fn invite(
        &self,
        inviter: &UserId,
        room: &RoomId,
        user: &UserId,
    ) -> Result<(), HomeserverError> {
        let recipient =
            InvitationRecipient::UserId(invite_user::v3::InviteUserId::new(user.to_owned()));
        match self
            .send(
                inviter,
                invite_user::v3::Request::new(room.to_owned(), recipient),
            )
            .await
        {
            Ok(_) => Ok(()),
            // Synapse answers 403 "is already in the room" for a member.
            Err(err) if err.to_string().contains("already in the room") => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Sends a message as `user` with its original time (`?ts=`, appservices only).
    pub async fn send_message_at(
        &self,
        user: &UserId,
        room: &RoomId,
        txn_id: OwnedTransactionId,
        content: &RoomMessageEventContent,
        sent_at_ms: i64,
    ) -> Result<OwnedEventId, HomeserverError> {
        self.send_event_at(user, room, txn_id, content, sent_at_ms)
            .await
    }

    /// Sends any message-like event as `user` with its original time.
    pub async fn send_event_at<C>(
        &self,
        user: &UserId,
        room: &RoomId,
        txn_id: OwnedTransactionId,
        content: &C,
        sent_at_ms: i64,
    ) -> Result<OwnedEventId, HomeserverError>
    where
        C: MessageLikeEventContent,
    {
        let mut request = send_message_event::v3::Request::new(room.to_owned(), txn_id, content)
            .map_err(|err| HomeserverError::Build {
                endpoint: "send_message_event".into(),
                detail: err.to_string(),
            })?;
        request.timestamp = UInt::try_from(sent_at_ms.max(0))
            .ok()
            .map(MilliSecondsSinceUnixEpoch);
        Ok(self.send(user, request).await?.event_id)
    }

    /// The content of an event, as JSON, as `reader` sees it.
    pub async fn event_content(
        &self,
        reader: &UserId,
        room: &RoomId,
        event: &EventId,
    ) -> Result<serde_json::Value, HomeserverError> {
        let request = get_room_event::v3::Request::new(room.to_owned(), event.to_owned());
        let response = self.send(reader, request).await?;
        let value: serde_json::Value = response
            .event
            .deserialize_as_unchecked()
            .unwrap_or_default();
        Ok(value["content"].clone())
    }

    /// Sends `content` (JSON) as an `m.room.message` as `user` with its original time.
    pub async fn send_json_message_at(
        &self,
        user: &UserId,
        room: &RoomId,
        txn_id: OwnedTransactionId,
        content: &serde_json::Value,
        sent_at_ms: i64,
    ) -> Result<OwnedEventId, HomeserverError> {
        let raw =
            serde_json::value::to_raw_value(content).map_err(|err| HomeserverError::Build {
                endpoint: "send_message_event".into(),
                detail: err.to_string(),
            })?;
        let mut request = send_message_event::v3::Request::new_raw(
            room.to_owned(),
            txn_id,
            ruma::events::MessageLikeEventType::RoomMessage,
            Raw::from_json(raw),
        );
        request.timestamp = UInt::try_from(sent_at_ms.max(0))
            .ok()
            .map(MilliSecondsSinceUnixEpoch);
        Ok(self.send(user, request).await?.event_id)
    }

    /// The answers of a poll start event: (answer ID, answer text), as `reader` sees it.
    pub async fn poll_answers(
        &self,
        reader: &UserId,
        room: &RoomId,
        event: &EventId,
    ) -> Result<Vec<(String, String)>, HomeserverError> {
        let content = self.event_content(reader, room, event).await?;
        let answers = content["org.matrix.msc3381.poll.start"]["answers"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        Ok(answers
            .iter()
            .filter_map(|answer| {
                Some((
                    answer["id"].as_str()?.to_owned(),
                    answer["org.matrix.msc1767.text"].as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    /// The body of a message in the room, as `reader` sees it (None if it has none).
    pub async fn message_body(
        &self,
        reader: &UserId,
        room: &RoomId,
        event: &EventId,
    ) -> Result<Option<String>, HomeserverError> {
        let content = self.event_content(reader, room, event).await?;
        Ok(content["body"].as_str().map(str::to_owned))
    }
}
