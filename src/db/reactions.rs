//! Reactions: who reacted to which WhatsApp message, with which Matrix event.

use ruma::{EventId, OwnedEventId, RoomId};

use super::{Db, with_pool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub device_id: i32,
    pub chat_jid: String,
    pub target_wa_id: String,
    pub wa_sender: String,
    pub event_id: OwnedEventId,
    pub emoji: String,
}

type Row = (i32, String, String, String, String, String);

fn reaction((device_id, chat_jid, target_wa_id, wa_sender, event, emoji): Row) -> Option<Reaction> {
    Some(Reaction {
        device_id,
        chat_jid,
        target_wa_id,
        wa_sender,
        event_id: EventId::parse(event).ok()?,
        emoji,
    })
}

impl Db {
    pub async fn reaction(
        &self,
        device_id: i32,
        chat_jid: &str,
        target_wa_id: &str,
        wa_sender: &str,
    ) -> Result<Option<Reaction>, sqlx::Error> {
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, chat_jid, target_wa_id, wa_sender, event_id, emoji FROM reaction_map \
                 WHERE device_id = $1 AND chat_jid = $2 AND target_wa_id = $3 AND wa_sender = $4",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(target_wa_id)
            .bind(wa_sender)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.and_then(reaction))
    }

    pub async fn reaction_by_event(
        &self,
        room: &RoomId,
        event: &EventId,
    ) -> Result<Option<Reaction>, sqlx::Error> {
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, chat_jid, target_wa_id, wa_sender, event_id, emoji FROM reaction_map \
                 WHERE room_id = $1 AND event_id = $2",
            )
            .bind(room.as_str())
            .bind(event.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.and_then(reaction))
    }

    /// Records the person's current reaction on a message, replacing an older one.
    pub async fn set_reaction(
        &self,
        reaction: &Reaction,
        room: &RoomId,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO reaction_map (device_id, chat_jid, target_wa_id, wa_sender, room_id, event_id, emoji) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (device_id, chat_jid, target_wa_id, wa_sender) \
                 DO UPDATE SET room_id = excluded.room_id, event_id = excluded.event_id, emoji = excluded.emoji",
            )
            .bind(reaction.device_id)
            .bind(&reaction.chat_jid)
            .bind(&reaction.target_wa_id)
            .bind(&reaction.wa_sender)
            .bind(room.as_str())
            .bind(reaction.event_id.as_str())
            .bind(&reaction.emoji)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    pub async fn remove_reaction(
        &self,
        device_id: i32,
        chat_jid: &str,
        target_wa_id: &str,
        wa_sender: &str,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM reaction_map WHERE device_id = $1 AND chat_jid = $2 AND target_wa_id = $3 AND wa_sender = $4",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(target_wa_id)
            .bind(wa_sender)
            .execute(pool)
            .await
            .map(drop)
        })
    }
}
