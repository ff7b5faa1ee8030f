//! Read marks: how far the owner of a portal has read its chat, so each read receipt sent
//! to WhatsApp names only the messages read since the one before.

use super::{Db, with_pool};

/// A message the owner has not yet told WhatsApp they read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadMessage {
    pub wa_message_id: String,
    /// Who sent it (a JID).
    pub wa_sender: String,
}

impl Db {
    /// Messages of the chat from others than `own_sender`, after the portal's read mark
    /// and up to `up_to_ms`, oldest first.
    pub async fn unread_from_others(
        &self,
        device_id: i32,
        chat_jid: &str,
        own_sender: &str,
        up_to_ms: i64,
    ) -> Result<Vec<UnreadMessage>, sqlx::Error> {
        let rows: Vec<(String, String)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT m.wa_message_id, m.wa_sender FROM message_map m \
                 JOIN portal p ON p.device_id = m.device_id AND p.chat_jid = m.chat_jid \
                 WHERE m.device_id = $1 AND m.chat_jid = $2 AND m.part = 0 AND m.wa_sender <> $3 \
                 AND m.sent_at_ms > p.read_until_ms AND m.sent_at_ms <= $4 \
                 ORDER BY m.sent_at_ms, m.wa_message_id",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(own_sender)
            .bind(up_to_ms)
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(|(wa_message_id, wa_sender)| UnreadMessage {
                wa_message_id,
                wa_sender,
            })
            .collect())
    }

    /// Moves the portal's read mark forward to `read_until_ms` (never back).
    pub async fn mark_read_until(
        &self,
        device_id: i32,
        chat_jid: &str,
        read_until_ms: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE portal SET read_until_ms = $3 \
                 WHERE device_id = $1 AND chat_jid = $2 AND read_until_ms < $3",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(read_until_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }
}
