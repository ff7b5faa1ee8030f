//! Poll secrets: what each poll's votes are encrypted with, by login, chat and poll.

use super::{Db, with_pool};

impl Db {
    /// Keeps a poll's secret; the first one kept stays (a repeat changes nothing).
    pub async fn keep_poll_secret(
        &self,
        device_id: i32,
        chat_jid: &str,
        message_id: &str,
        secret: &[u8],
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO poll_secret (device_id, chat_jid, message_id, secret) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(message_id)
            .bind(secret)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    pub async fn poll_secret(
        &self,
        device_id: i32,
        chat_jid: &str,
        message_id: &str,
    ) -> Result<Option<Vec<u8>>, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT secret FROM poll_secret WHERE device_id = $1 AND chat_jid = $2 AND message_id = $3",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(message_id)
            .fetch_optional(pool)
            .await
        })
    }
}
