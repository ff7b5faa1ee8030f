//! Secrets of messages, kept so later add-ons (reactions, poll votes, edits) decrypt.

use async_trait::async_trait;
use wacore::store::error::Result;
use wacore::store::traits::{MsgSecretEntry, MsgSecretStore};

use super::{WaStore, db_err};
use crate::db::with_pool;

#[async_trait]
impl MsgSecretStore for WaStore {
    async fn put_msg_secrets(&self, entries: Vec<MsgSecretEntry>) -> Result<usize> {
        // On conflict: the newest secret, the later deadline (0 = never wins), the later
        // non-zero parent time.
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for entry in &entries {
                sqlx::query(
                    "INSERT INTO wa_msg_secret (device_id, chat, sender, message_id, secret, expires_at, message_ts) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (device_id, chat, sender, message_id) DO UPDATE SET secret = excluded.secret, \
                     expires_at = CASE WHEN wa_msg_secret.expires_at = 0 OR excluded.expires_at = 0 THEN 0 \
                                       WHEN excluded.expires_at > wa_msg_secret.expires_at THEN excluded.expires_at \
                                       ELSE wa_msg_secret.expires_at END, \
                     message_ts = CASE WHEN excluded.message_ts > wa_msg_secret.message_ts THEN excluded.message_ts \
                                       ELSE wa_msg_secret.message_ts END",
                )
                .bind(self.device_id)
                .bind(entry.chat.as_ref())
                .bind(entry.sender.as_ref())
                .bind(entry.msg_id.as_ref())
                .bind(entry.secret.as_slice())
                .bind(entry.expires_at)
                .bind(entry.message_ts)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })?;
        Ok(entries.len())
    }

    async fn get_msg_secret(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<Vec<u8>>> {
        Ok(self
            .get_msg_secret_with_ts(chat, sender, msg_id)
            .await?
            .map(|(secret, _)| secret))
    }

    async fn get_msg_secret_with_ts(
        &self,
        chat: &str,
        sender: &str,
        msg_id: &str,
    ) -> Result<Option<(Vec<u8>, i64)>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT secret, message_ts FROM wa_msg_secret \
                 WHERE device_id = $1 AND chat = $2 AND sender = $3 AND message_id = $4",
            )
            .bind(self.device_id)
            .bind(chat)
            .bind(sender)
            .bind(msg_id)
            .fetch_optional(pool)
            .await
            .map_err(db_err)
        })
    }

    async fn delete_expired_msg_secrets(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.delete_before(
            "DELETE FROM wa_msg_secret WHERE device_id = $1 AND expires_at <> 0 AND expires_at <= $2",
            cutoff_timestamp,
        )
        .await
    }
}
