//! Read marks: which messages from others the owner of a portal has told WhatsApp they
//! read, so each read receipt names only the messages read since the one before (however
//! many share a second, WhatsApp's timestamp resolution).

use super::{Db, with_pool};

/// The most messages one Matrix read receipt marks read on WhatsApp.
const MOST_PER_RECEIPT: i64 = 1000;

/// A message the owner has not yet told WhatsApp they read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadMessage {
    pub wa_message_id: String,
    /// Who sent it (a JID).
    pub wa_sender: String,
}

impl Db {
    /// Messages of the chat from others than `own_sender`, not marked read yet, sent up to
    /// `up_to_ms`; the newest `MOST_PER_RECEIPT`, oldest first.
    pub async fn unread_from_others(
        &self,
        device_id: i32,
        chat_jid: &str,
        own_sender: &str,
        up_to_ms: i64,
    ) -> Result<Vec<UnreadMessage>, sqlx::Error> {
        let mut rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT wa_message_id, wa_sender FROM message_map \
                 WHERE device_id = $1 AND chat_jid = $2 AND part = 0 AND wa_sender <> $3 \
                 AND NOT read_sent AND sent_at_ms <= $4 \
                 ORDER BY sent_at_ms DESC, wa_message_id DESC LIMIT $5",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(own_sender)
            .bind(up_to_ms)
            .bind(MOST_PER_RECEIPT)
            .fetch_all(pool)
            .await?
        });
        rows.reverse();
        Ok(rows
            .into_iter()
            .map(|(wa_message_id, wa_sender)| UnreadMessage {
                wa_message_id,
                wa_sender,
            })
            .collect())
    }

    /// Notes that WhatsApp was told these messages were read.
    pub async fn mark_read_sent(
        &self,
        device_id: i32,
        chat_jid: &str,
        messages: &[UnreadMessage],
    ) -> Result<(), sqlx::Error> {
        for message in messages {
            with_pool!(self, |pool| {
                sqlx::query(
                    "UPDATE message_map SET read_sent = TRUE \
                     WHERE device_id = $1 AND chat_jid = $2 AND wa_message_id = $3",
                )
                .bind(device_id)
                .bind(chat_jid)
                .bind(&message.wa_message_id)
                .execute(pool)
                .await
                .map(drop)
            })?;
        }
        Ok(())
    }

    /// The newest bridged event, per room, of the messages the owner read on the phone
    /// (by WhatsApp ID, in any chat of the device); and everything up to it in those
    /// chats is marked as read already, so the Matrix receipt that follows is not told
    /// to WhatsApp again.
    pub async fn read_on_phone(
        &self,
        device_id: i32,
        message_ids: &[String],
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        // (room, chat, event, sent at) of the newest part of each message.
        let mut newest: std::collections::BTreeMap<String, (String, String, i64)> =
            std::collections::BTreeMap::new();
        for id in message_ids {
            let rows: Vec<(String, String, String, i64)> = with_pool!(self, |pool| {
                sqlx::query_as(
                    "SELECT room_id, chat_jid, event_id, sent_at_ms FROM message_map \
                     WHERE device_id = $1 AND wa_message_id = $2 ORDER BY part DESC LIMIT 1",
                )
                .bind(device_id)
                .bind(id)
                .fetch_all(pool)
                .await
            })?;
            for (room, chat, event, at) in rows {
                let entry = newest
                    .entry(room)
                    .or_insert((chat.clone(), event.clone(), at));
                if at > entry.2 {
                    *entry = (chat, event, at);
                }
            }
        }
        for (chat, _, at) in newest.values() {
            with_pool!(self, |pool| {
                sqlx::query(
                    "UPDATE message_map SET read_sent = TRUE \
                     WHERE device_id = $1 AND chat_jid = $2 AND sent_at_ms <= $3 AND NOT read_sent",
                )
                .bind(device_id)
                .bind(chat)
                .bind(at)
                .execute(pool)
                .await
                .map(drop)
            })?;
        }
        Ok(newest
            .into_iter()
            .map(|(room, (_, event, _))| (room, event))
            .collect())
    }
}
