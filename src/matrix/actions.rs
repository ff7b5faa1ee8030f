//! Everyday Matrix actions on top of the client, each taking the acting user explicitly.

use std::time::Duration;

use ruma::api::client::account::register;
use ruma::api::client::appservice::request_ping;
use ruma::api::client::authenticated_media::get_content;
use ruma::api::client::media::create_content;
use ruma::api::client::membership::{join_room_by_id, joined_rooms, leave_room};
use ruma::api::client::message::send_message_event;
use ruma::api::client::profile::set_profile_field;
use ruma::api::client::receipt::create_receipt::{self, v3::ReceiptType};
use ruma::api::client::redact::redact_event;
use ruma::api::client::typing::create_typing_event::{
    self,
    v3::{Typing, TypingInfo},
};
use ruma::events::room::message::RoomMessageEventContent;
use ruma::profile::ProfileFieldValue;
use ruma::{
    EventId, MxcUri, OwnedEventId, OwnedMxcUri, OwnedRoomId, OwnedTransactionId, RoomId, UserId,
};

use super::client::{HomeserverClient, HomeserverError};

impl HomeserverClient {
    /// Registers an appservice user; one that already exists is fine.
    pub async fn ensure_registered(&self, user: &UserId) -> Result<(), HomeserverError> {
        let mut request = register::v3::Request::new();
        request.username = Some(user.localpart().to_owned());
        request.login_type = Some(register::LoginType::ApplicationService);
        request.inhibit_login = true;
        match self.send(user, request).await {
            Ok(_) => Ok(()),
            Err(err) if err.errcode() == Some("M_USER_IN_USE") => Ok(()),
            Err(err) => Err(err),
        }
    }

    pub async fn set_display_name(&self, user: &UserId, name: &str) -> Result<(), HomeserverError> {
        let value = ProfileFieldValue::DisplayName(name.to_owned());
        self.send(
            user,
            set_profile_field::v3::Request::new(user.to_owned(), value),
        )
        .await
        .map(drop)
    }

    pub async fn set_avatar(
        &self,
        user: &UserId,
        avatar: OwnedMxcUri,
    ) -> Result<(), HomeserverError> {
        let value = ProfileFieldValue::AvatarUrl(avatar);
        self.send(
            user,
            set_profile_field::v3::Request::new(user.to_owned(), value),
        )
        .await
        .map(drop)
    }

    /// Marks `event` (and what came before it) read by `user`.
    pub async fn send_read_receipt(
        &self,
        user: &UserId,
        room: &RoomId,
        event: &EventId,
    ) -> Result<(), HomeserverError> {
        let request =
            create_receipt::v3::Request::new(room.to_owned(), ReceiptType::Read, event.to_owned());
        self.send(user, request).await.map(drop)
    }

    /// Shows `user` typing in the room for up to `timeout`, or stops showing it.
    pub async fn set_typing(
        &self,
        user: &UserId,
        room: &RoomId,
        typing: Option<Duration>,
    ) -> Result<(), HomeserverError> {
        let state = match typing {
            Some(timeout) => Typing::Yes(TypingInfo::new(timeout)),
            None => Typing::No,
        };
        let request =
            create_typing_event::v3::Request::new(user.to_owned(), room.to_owned(), state);
        self.send(user, request).await.map(drop)
    }

    pub async fn join(&self, user: &UserId, room: &RoomId) -> Result<(), HomeserverError> {
        self.send(user, join_room_by_id::v3::Request::new(room.to_owned()))
            .await
            .map(drop)
    }

    pub async fn leave(
        &self,
        user: &UserId,
        room: &RoomId,
        reason: Option<&str>,
    ) -> Result<(), HomeserverError> {
        let mut request = leave_room::v3::Request::new(room.to_owned());
        request.reason = reason.map(str::to_owned);
        self.send(user, request).await.map(drop)
    }

    /// The rooms `user` is joined to.
    pub async fn joined_rooms(&self, user: &UserId) -> Result<Vec<OwnedRoomId>, HomeserverError> {
        self.send(user, joined_rooms::v3::Request::new())
            .await
            .map(|joined| joined.joined_rooms)
    }

    /// Sends a message. The homeserver drops a repeated `txn_id` from the same user, so a
    /// retry after a crash does not post twice.
    pub async fn send_message(
        &self,
        user: &UserId,
        room: &RoomId,
        txn_id: OwnedTransactionId,
        content: &RoomMessageEventContent,
    ) -> Result<OwnedEventId, HomeserverError> {
        let request = send_message_event::v3::Request::new(room.to_owned(), txn_id, content)
            .map_err(|err| HomeserverError::Build {
                endpoint: "send_message_event".into(),
                detail: err.to_string(),
            })?;
        Ok(self.send(user, request).await?.event_id)
    }

    /// Uploads a file to the homeserver's media repository as `user`.
    pub async fn upload(
        &self,
        user: &UserId,
        bytes: Vec<u8>,
        content_type: &str,
        filename: &str,
    ) -> Result<OwnedMxcUri, HomeserverError> {
        let mut request = create_content::v3::Request::new(bytes);
        request.content_type = Some(content_type.to_owned());
        request.filename = Some(filename.to_owned());
        Ok(self.send(user, request).await?.content_uri)
    }

    /// Downloads a file of the homeserver's media repository as `user` (authenticated
    /// media); returns its bytes and its content type when the homeserver gave one.
    pub async fn download(
        &self,
        user: &UserId,
        url: &MxcUri,
    ) -> Result<(Vec<u8>, Option<String>), HomeserverError> {
        let (server, media_id) = url.parts().map_err(|err| HomeserverError::Build {
            endpoint: "get_content".into(),
            detail: format!("`{url}` is not a valid mxc:// address: {err}"),
        })?;
        let request = get_content::v1::Request::new(media_id.to_owned(), server.to_owned());
        let response = self.send(user, request).await?;
        Ok((response.file, response.content_type))
    }

    /// Redacts an event; like sends, a repeated `txn_id` does nothing twice.
    pub async fn redact(
        &self,
        user: &UserId,
        room: &RoomId,
        event: &EventId,
        txn_id: OwnedTransactionId,
        reason: Option<&str>,
    ) -> Result<(), HomeserverError> {
        let mut request = redact_event::v3::Request::new(room.to_owned(), event.to_owned(), txn_id);
        request.reason = reason.map(str::to_owned);
        self.send(user, request).await.map(drop)
    }

    /// Asks the homeserver to call the bridge's ping endpoint: proves both directions work.
    pub async fn ping_appservice(
        &self,
        as_user: &UserId,
        appservice_id: &str,
    ) -> Result<Duration, HomeserverError> {
        let mut request = request_ping::v1::Request::new(appservice_id.to_owned());
        request.transaction_id = Some(OwnedTransactionId::from("matrix-whatsapp-startup-ping"));
        Ok(self.send(as_user, request).await?.duration)
    }
}
