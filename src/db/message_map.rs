//! The message map: WhatsApp message parts ⇄ Matrix events, per linked device and chat.

use ruma::{EventId, OwnedEventId, RoomId};

use super::{Db, with_pool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappedMessage {
    pub device_id: i32,
    pub chat_jid: String,
    pub wa_message_id: String,
    pub part: i32,
    /// Who sent it on WhatsApp (a JID).
    pub wa_sender: String,
    pub event_id: OwnedEventId,
    pub sent_at_ms: i64,
}

type Row = (i32, String, String, i32, String, String, i64);

/// The part number of the notice that holds an undecryptable message's place (the
/// queries below write it as -1).
pub const PLACEHOLDER_PART: i32 = -1;

fn mapped(
    (device_id, chat_jid, wa_message_id, part, wa_sender, event, sent_at_ms): Row,
) -> Option<MappedMessage> {
    Some(MappedMessage {
        device_id,
        chat_jid,
        wa_message_id,
        part,
        wa_sender,
        event_id: EventId::parse(event).ok()?,
        sent_at_ms,
    })
}

impl Db {
    /// Records a bridged part; recording the same part again changes nothing.
    pub async fn map_message(
        &self,
        message: &MappedMessage,
        room: &RoomId,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO message_map (device_id, chat_jid, wa_message_id, part, wa_sender, room_id, event_id, sent_at_ms) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
            )
            .bind(message.device_id)
            .bind(&message.chat_jid)
            .bind(&message.wa_message_id)
            .bind(message.part)
            .bind(&message.wa_sender)
            .bind(room.as_str())
            .bind(message.event_id.as_str())
            .bind(message.sent_at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// The newest bridged event of a room (by WhatsApp time).
    pub async fn newest_event_in_room(
        &self,
        room: &RoomId,
    ) -> Result<Option<OwnedEventId>, sqlx::Error> {
        let event: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT event_id FROM message_map WHERE room_id = $1 AND part >= 0 \
                 ORDER BY sent_at_ms DESC, wa_message_id DESC, part DESC LIMIT 1",
            )
            .bind(room.as_str())
            .fetch_optional(pool)
            .await
        })?;
        Ok(event.and_then(|event| EventId::parse(event).ok()))
    }

    /// Forgets where a chat's messages were in `room` (a room the chat has left for a
    /// new one): they are mapped again as they are posted there.
    pub async fn forget_room_mappings(
        &self,
        device_id: i32,
        chat_jid: &str,
        room: &RoomId,
    ) -> Result<u64, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM message_map WHERE device_id = $1 AND chat_jid = $2 AND room_id = $3",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(room.as_str())
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
    }

    /// The parts of a WhatsApp message, first part first.
    pub async fn mapped_by_wa_id(
        &self,
        device_id: i32,
        chat_jid: &str,
        wa_message_id: &str,
    ) -> Result<Vec<MappedMessage>, sqlx::Error> {
        let rows: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, chat_jid, wa_message_id, part, wa_sender, event_id, sent_at_ms FROM message_map \
                 WHERE device_id = $1 AND chat_jid = $2 AND wa_message_id = $3 ORDER BY part",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(wa_message_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().filter_map(mapped).collect())
    }

    pub async fn mapped_by_event(
        &self,
        room: &RoomId,
        event: &EventId,
    ) -> Result<Option<MappedMessage>, sqlx::Error> {
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, chat_jid, wa_message_id, part, wa_sender, event_id, sent_at_ms FROM message_map \
                 WHERE room_id = $1 AND event_id = $2",
            )
            .bind(room.as_str())
            .bind(event.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.and_then(mapped))
    }

    /// The placeholder of a message now is its first part (the notice was edited into it).
    pub async fn promote_placeholder(
        &self,
        device_id: i32,
        chat_jid: &str,
        wa_message_id: &str,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE message_map SET part = 0 \
                 WHERE device_id = $1 AND chat_jid = $2 AND wa_message_id = $3 AND part = -1",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(wa_message_id)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// The placeholder of a message is gone (its notice was removed).
    pub async fn forget_placeholder(
        &self,
        device_id: i32,
        chat_jid: &str,
        wa_message_id: &str,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM message_map \
                 WHERE device_id = $1 AND chat_jid = $2 AND wa_message_id = $3 AND part = -1",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(wa_message_id)
            .execute(pool)
            .await
            .map(drop)
        })
    }
}
