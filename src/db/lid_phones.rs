//! LID ⇄ phone number: what the bridge learned of who a LID is, and moving what was
//! keyed by a LID over to the phone number once it is known.

use super::{Db, with_pool};

/// Moving one device's chat from one JID to another, table by table.
const MOVE_CHAT: [&str; 4] = [
    "UPDATE message_map SET chat_jid = $3 WHERE device_id = $1 AND chat_jid = $2",
    "UPDATE reaction_map SET chat_jid = $3 WHERE device_id = $1 AND chat_jid = $2",
    "UPDATE poll_secret SET chat_jid = $3 WHERE device_id = $1 AND chat_jid = $2",
    "UPDATE portal SET chat_jid = $3 WHERE device_id = $1 AND chat_jid = $2",
];

impl Db {
    /// The phone number (digits) of `lid`: what the bridge learned, or else what the
    /// WhatsApp store of any linked device learned.
    pub async fn phone_for_lid(&self, lid: &str) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT phone FROM lid_phone WHERE lid = $1 \
                 UNION ALL SELECT phone_number FROM wa_lid_mapping WHERE lid = $1 LIMIT 1",
            )
            .bind(lid)
            .fetch_optional(pool)
            .await
        })
    }

    /// Remembers that `lid` is `phone`; true when this is news (new, or a new number).
    pub async fn learn_lid_phone(
        &self,
        lid: &str,
        phone: &str,
        now_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO lid_phone (lid, phone, learned_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (lid) DO UPDATE SET phone = excluded.phone, learned_at = excluded.learned_at \
                 WHERE lid_phone.phone <> excluded.phone",
            )
            .bind(lid)
            .bind(phone)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() > 0)
        })
    }

    /// Moves what the bridge keeps under a person's LID address (`lid_jid`) to their
    /// phone-number address (`phone_jid`), in one transaction: direct chats whose portal
    /// has no phone-number twin, their message map, reactions and poll secrets, and the
    /// sender recorded on every bridged message. Returns the rooms of the moved chats.
    pub async fn move_lid_to_phone(
        &self,
        lid_jid: &str,
        phone_jid: &str,
    ) -> Result<Vec<String>, sqlx::Error> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let moved: Vec<(i32, String)> = sqlx::query_as(
                "SELECT device_id, room_id FROM portal p WHERE chat_jid = $1 AND NOT EXISTS \
                 (SELECT 1 FROM portal q WHERE q.device_id = p.device_id AND q.chat_jid = $2)",
            )
            .bind(lid_jid)
            .bind(phone_jid)
            .fetch_all(&mut *tx)
            .await?;
            for (device_id, _) in &moved {
                for sql in MOVE_CHAT {
                    sqlx::query(sql)
                        .bind(device_id)
                        .bind(lid_jid)
                        .bind(phone_jid)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            sqlx::query("UPDATE message_map SET wa_sender = $2 WHERE wa_sender = $1")
                .bind(lid_jid)
                .bind(phone_jid)
                .execute(&mut *tx)
                .await?;
            // A reaction the person also made by phone number keeps that one.
            sqlx::query(
                "UPDATE reaction_map SET wa_sender = $2 WHERE wa_sender = $1 AND NOT EXISTS                  (SELECT 1 FROM reaction_map r WHERE r.device_id = reaction_map.device_id                   AND r.chat_jid = reaction_map.chat_jid AND r.target_wa_id = reaction_map.target_wa_id                   AND r.wa_sender = $2)",
            )
            .bind(lid_jid)
            .bind(phone_jid)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(moved.into_iter().map(|(_, room)| room).collect())
        })
    }

    /// Forgets a ghost's profile record (after it was merged into another).
    pub async fn forget_ghost(&self, identifier: &str) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query("DELETE FROM ghost WHERE identifier = $1")
                .bind(identifier)
                .execute(pool)
                .await
                .map(drop)
        })
    }
}
