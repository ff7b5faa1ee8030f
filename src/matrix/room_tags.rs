//! A user's own settings for a room, set as that user: tags (favourite, low priority)
//! and notifications (a room push rule that mutes it).

use ruma::api::client::push::set_pushrule;
use ruma::api::client::tag::create_tag;
use ruma::events::tag::TagInfo;
use ruma::push::NewPushRule;
use ruma::push::NewSimplePushRule;
use ruma::{RoomId, UserId};

use super::client::{HomeserverClient, HomeserverError};

/// The tags the bridge sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomTag {
    Favourite,
    LowPriority,
}

impl RoomTag {
    fn name(self) -> &'static str {
        match self {
            Self::Favourite => "m.favourite",
            Self::LowPriority => "m.lowpriority",
        }
    }
}

impl HomeserverClient {
    pub async fn set_room_tag(
        &self,
        user: &UserId,
        room: &RoomId,
        tag: RoomTag,
    ) -> Result<(), HomeserverError> {
        let request = create_tag::v3::Request::new(
            user.to_owned(),
            room.to_owned(),
            tag.name().to_owned(),
            TagInfo::new(),
        );
        self.send(user, request).await.map(drop)
    }

    /// Turns the room's notifications off for `user` (a room rule with no actions).
    pub async fn mute_room(&self, user: &UserId, room: &RoomId) -> Result<(), HomeserverError> {
        let rule = NewPushRule::Room(NewSimplePushRule::new(room.to_owned(), Vec::new()));
        self.send(user, set_pushrule::v3::Request::new(rule))
            .await
            .map(drop)
    }
}
