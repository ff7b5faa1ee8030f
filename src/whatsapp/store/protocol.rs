//! Protocol state: sender-key distribution, LID↔phone mappings, base keys, device lists,
//! group metadata, trusted-contact tokens, sent messages (for retries) and the pending
//! inbound buffer behind the durability hook.

use async_trait::async_trait;
use wacore::store::error::Result;
use wacore::store::traits::{
    DeviceListRecord, LidPnMappingEntry, PendingInboundKey, PendingInboundRow, ProtocolStore,
    TcTokenEntry,
};

use super::{WaStore, db_err, row_count, serde_err};
use crate::db::with_pool;

type LidRow = (String, String, i64, i64, String);

fn lid_entry(
    (lid, phone_number, created_at, updated_at, learning_source): LidRow,
) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid,
        phone_number,
        created_at,
        updated_at,
        learning_source,
    }
}

const PUT_LID: &str = "INSERT INTO wa_lid_mapping (device_id, lid, phone_number, created_at, updated_at, learning_source) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (device_id, lid) DO UPDATE SET phone_number = excluded.phone_number, \
     updated_at = excluded.updated_at, learning_source = excluded.learning_source";
const PUT_DEVICE_LIST: &str = "INSERT INTO wa_device_list (device_id, user_part, record) VALUES ($1, $2, $3) \
     ON CONFLICT (device_id, user_part) DO UPDATE SET record = excluded.record";
const PUT_PENDING: &str = "INSERT INTO wa_pending_inbound (device_id, chat, sender, message_id, message, created_at) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (device_id, chat, sender, message_id) DO UPDATE SET message = excluded.message";
const DELETE_PENDING: &str = "DELETE FROM wa_pending_inbound WHERE device_id = $1 AND chat = $2 AND sender = $3 AND message_id = $4";

#[async_trait]
impl ProtocolStore for WaStore {
    async fn get_sender_key_devices(&self, group_jid: &str) -> Result<Vec<(String, bool)>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT device_jid, has_key FROM wa_sender_key_device WHERE device_id = $1 AND group_jid = $2 ORDER BY device_jid",
            )
            .bind(self.device_id)
            .bind(group_jid)
            .fetch_all(pool)
            .await
            .map_err(db_err)
        })
    }

    async fn set_sender_key_status(&self, group_jid: &str, entries: &[(&str, bool)]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for (device_jid, has_key) in entries {
                sqlx::query(
                    "INSERT INTO wa_sender_key_device (device_id, group_jid, device_jid, has_key) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (device_id, group_jid, device_jid) DO UPDATE SET has_key = excluded.has_key",
                )
                .bind(self.device_id)
                .bind(group_jid)
                .bind(*device_jid)
                .bind(*has_key)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn clear_sender_key_devices(&self, group_jid: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_sender_key_device WHERE device_id = $1 AND group_jid = $2",
            group_jid,
        )
        .await
    }

    async fn delete_sender_key_device_rows(&self, device_jids: &[&str]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for device_jid in device_jids {
                sqlx::query(
                    "DELETE FROM wa_sender_key_device WHERE device_id = $1 AND device_jid = $2",
                )
                .bind(self.device_id)
                .bind(*device_jid)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn clear_all_sender_key_devices(&self) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM wa_sender_key_device WHERE device_id = $1")
                .bind(self.device_id)
                .execute(pool)
                .await
                .map(drop)
                .map_err(db_err)
        })
    }

    async fn get_lid_mapping(&self, lid: &str) -> Result<Option<LidPnMappingEntry>> {
        let row: Option<LidRow> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT lid, phone_number, created_at, updated_at, learning_source FROM wa_lid_mapping \
                 WHERE device_id = $1 AND lid = $2",
            )
            .bind(self.device_id)
            .bind(lid)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        Ok(row.map(lid_entry))
    }

    async fn get_pn_mapping(&self, phone: &str) -> Result<Option<LidPnMappingEntry>> {
        let row: Option<LidRow> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT lid, phone_number, created_at, updated_at, learning_source FROM wa_lid_mapping \
                 WHERE device_id = $1 AND phone_number = $2 ORDER BY updated_at DESC, lid DESC LIMIT 1",
            )
            .bind(self.device_id)
            .bind(phone)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        Ok(row.map(lid_entry))
    }

    async fn put_lid_mapping(&self, entry: &LidPnMappingEntry) -> Result<()> {
        self.put_lid_mappings(std::slice::from_ref(entry)).await
    }

    async fn put_lid_mappings(&self, entries: &[LidPnMappingEntry]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for entry in entries {
                sqlx::query(PUT_LID)
                    .bind(self.device_id)
                    .bind(&entry.lid)
                    .bind(&entry.phone_number)
                    .bind(entry.created_at)
                    .bind(entry.updated_at)
                    .bind(&entry.learning_source)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn get_all_lid_mappings(&self) -> Result<Vec<LidPnMappingEntry>> {
        let rows: Vec<LidRow> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT lid, phone_number, created_at, updated_at, learning_source FROM wa_lid_mapping \
                 WHERE device_id = $1 ORDER BY lid",
            )
            .bind(self.device_id)
            .fetch_all(pool)
            .await
            .map_err(db_err)?
        });
        Ok(rows.into_iter().map(lid_entry).collect())
    }

    async fn save_base_key(&self, address: &str, message_id: &str, base_key: &[u8]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_base_key (device_id, address, message_id, base_key) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (device_id, address, message_id) DO UPDATE SET base_key = excluded.base_key",
            )
            .bind(self.device_id)
            .bind(address)
            .bind(message_id)
            .bind(base_key)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn has_same_base_key(
        &self,
        address: &str,
        message_id: &str,
        current_base_key: &[u8],
    ) -> Result<bool> {
        let stored: Option<Vec<u8>> = with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT base_key FROM wa_base_key WHERE device_id = $1 AND address = $2 AND message_id = $3",
            )
            .bind(self.device_id)
            .bind(address)
            .bind(message_id)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        Ok(stored.is_some_and(|stored| stored == current_base_key))
    }

    async fn delete_base_key(&self, address: &str, message_id: &str) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "DELETE FROM wa_base_key WHERE device_id = $1 AND address = $2 AND message_id = $3",
            )
            .bind(self.device_id)
            .bind(address)
            .bind(message_id)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn update_device_list(&self, record: DeviceListRecord) -> Result<()> {
        self.update_device_lists(vec![record]).await
    }

    async fn update_device_lists(&self, records: Vec<DeviceListRecord>) -> Result<()> {
        let encoded: Vec<(String, Vec<u8>)> = records
            .iter()
            .map(|record| {
                Ok((
                    record.user.clone(),
                    serde_json::to_vec(record).map_err(serde_err)?,
                ))
            })
            .collect::<Result<_>>()?;
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for (user, bytes) in &encoded {
                sqlx::query(PUT_DEVICE_LIST)
                    .bind(self.device_id)
                    .bind(user)
                    .bind(bytes)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn get_devices(&self, user: &str) -> Result<Option<DeviceListRecord>> {
        let stored: Option<Vec<u8>> = with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT record FROM wa_device_list WHERE device_id = $1 AND user_part = $2",
            )
            .bind(self.device_id)
            .bind(user)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        stored
            .map(|bytes| serde_json::from_slice(&bytes).map_err(serde_err))
            .transpose()
    }

    async fn delete_devices(&self, user: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_device_list WHERE device_id = $1 AND user_part = $2",
            user,
        )
        .await
    }

    async fn get_group_metadata(&self, group_jid: &str) -> Result<Option<Vec<u8>>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT metadata FROM wa_group_metadata WHERE device_id = $1 AND group_jid = $2",
            )
            .bind(self.device_id)
            .bind(group_jid)
            .fetch_optional(pool)
            .await
            .map_err(db_err)
        })
    }

    async fn put_group_metadata(&self, group_jid: &str, blob: &[u8]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_group_metadata (device_id, group_jid, metadata) VALUES ($1, $2, $3) \
                 ON CONFLICT (device_id, group_jid) DO UPDATE SET metadata = excluded.metadata",
            )
            .bind(self.device_id)
            .bind(group_jid)
            .bind(blob)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn delete_group_metadata(&self, group_jid: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_group_metadata WHERE device_id = $1 AND group_jid = $2",
            group_jid,
        )
        .await
    }

    async fn get_tc_token(&self, jid: &str) -> Result<Option<TcTokenEntry>> {
        let row: Option<(Vec<u8>, i64, Option<i64>)> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT token, token_timestamp, sender_timestamp FROM wa_tc_token WHERE device_id = $1 AND jid = $2",
            )
            .bind(self.device_id)
            .bind(jid)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        Ok(
            row.map(|(token, token_timestamp, sender_timestamp)| TcTokenEntry {
                token,
                token_timestamp,
                sender_timestamp,
            }),
        )
    }

    async fn put_tc_token(&self, jid: &str, entry: &TcTokenEntry) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_tc_token (device_id, jid, token, token_timestamp, sender_timestamp) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (device_id, jid) DO UPDATE SET token = excluded.token, \
                 token_timestamp = excluded.token_timestamp, sender_timestamp = excluded.sender_timestamp",
            )
            .bind(self.device_id)
            .bind(jid)
            .bind(&entry.token)
            .bind(entry.token_timestamp)
            .bind(entry.sender_timestamp)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn delete_tc_token(&self, jid: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_tc_token WHERE device_id = $1 AND jid = $2",
            jid,
        )
        .await
    }

    async fn get_all_tc_token_jids(&self) -> Result<Vec<String>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar("SELECT jid FROM wa_tc_token WHERE device_id = $1 ORDER BY jid")
                .bind(self.device_id)
                .fetch_all(pool)
                .await
                .map_err(db_err)
        })
    }

    async fn delete_expired_tc_tokens(&self, token_cutoff: i64, sender_cutoff: i64) -> Result<u32> {
        // A row goes only when both its received token and its sender bucket are stale.
        let deleted = with_pool!(&self.db, |pool| {
            sqlx::query(
                "DELETE FROM wa_tc_token WHERE device_id = $1 \
                 AND NOT (length(token) > 0 AND token_timestamp >= $2) \
                 AND NOT (sender_timestamp IS NOT NULL AND sender_timestamp >= $3)",
            )
            .bind(self.device_id)
            .bind(token_cutoff)
            .bind(sender_cutoff)
            .execute(pool)
            .await
            .map_err(db_err)?
            .rows_affected()
        });
        row_count(deleted)
    }

    async fn touch_tc_token_sender_timestamp(
        &self,
        jid: &str,
        sender_timestamp: i64,
    ) -> Result<()> {
        // One statement, so the notification writer can never interleave.
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_tc_token (device_id, jid, token, token_timestamp, sender_timestamp) VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (device_id, jid) DO UPDATE SET sender_timestamp = CASE \
                   WHEN wa_tc_token.sender_timestamp IS NULL OR wa_tc_token.sender_timestamp < excluded.sender_timestamp \
                   THEN excluded.sender_timestamp ELSE wa_tc_token.sender_timestamp END",
            )
            .bind(self.device_id)
            .bind(jid)
            .bind(Vec::<u8>::new())
            .bind(sender_timestamp)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn store_received_tc_token(
        &self,
        jid: &str,
        token: &[u8],
        token_timestamp: i64,
    ) -> Result<()> {
        // Newer wins; a placeholder (no bytes) never blocks a real token; the sender
        // bucket is kept.
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_tc_token (device_id, jid, token, token_timestamp, sender_timestamp) VALUES ($1, $2, $3, $4, NULL) \
                 ON CONFLICT (device_id, jid) DO UPDATE SET token = excluded.token, token_timestamp = excluded.token_timestamp \
                 WHERE length(wa_tc_token.token) = 0 OR excluded.token_timestamp >= wa_tc_token.token_timestamp",
            )
            .bind(self.device_id)
            .bind(jid)
            .bind(token)
            .bind(token_timestamp)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn store_sent_message(
        &self,
        chat_jid: &str,
        message_id: &str,
        payload: &[u8],
    ) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_sent_message (device_id, chat_jid, message_id, payload, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (device_id, chat_jid, message_id) DO UPDATE SET payload = excluded.payload, created_at = excluded.created_at",
            )
            .bind(self.device_id)
            .bind(chat_jid)
            .bind(message_id)
            .bind(payload)
            .bind(self.now_secs())
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn take_sent_message(&self, chat_jid: &str, message_id: &str) -> Result<Option<Vec<u8>>> {
        // DELETE … RETURNING: a second retry receipt finds nothing.
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "DELETE FROM wa_sent_message WHERE device_id = $1 AND chat_jid = $2 AND message_id = $3 RETURNING payload",
            )
            .bind(self.device_id)
            .bind(chat_jid)
            .bind(message_id)
            .fetch_optional(pool)
            .await
            .map_err(db_err)
        })
    }

    async fn delete_expired_sent_messages(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.delete_before(
            "DELETE FROM wa_sent_message WHERE device_id = $1 AND created_at < $2",
            cutoff_timestamp,
        )
        .await
    }

    async fn store_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
        message: &[u8],
    ) -> Result<()> {
        let row = PendingInboundRow {
            chat,
            sender,
            id,
            message,
        };
        self.store_pending_inbound_batch(&[row]).await
    }

    async fn get_pending_inbound(
        &self,
        chat: &str,
        sender: &str,
        id: &str,
    ) -> Result<Option<Vec<u8>>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT message FROM wa_pending_inbound WHERE device_id = $1 AND chat = $2 AND sender = $3 AND message_id = $4",
            )
            .bind(self.device_id)
            .bind(chat)
            .bind(sender)
            .bind(id)
            .fetch_optional(pool)
            .await
            .map_err(db_err)
        })
    }

    async fn delete_pending_inbound(&self, chat: &str, sender: &str, id: &str) -> Result<()> {
        self.delete_pending_inbound_batch(&[PendingInboundKey { chat, sender, id }])
            .await
    }

    async fn delete_expired_pending_inbound(&self, cutoff_timestamp: i64) -> Result<u32> {
        self.delete_before(
            "DELETE FROM wa_pending_inbound WHERE device_id = $1 AND created_at < $2",
            cutoff_timestamp,
        )
        .await
    }

    async fn store_pending_inbound_batch(&self, rows: &[PendingInboundRow<'_>]) -> Result<()> {
        let now = self.now_secs();
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for row in rows {
                sqlx::query(PUT_PENDING)
                    .bind(self.device_id)
                    .bind(row.chat)
                    .bind(row.sender)
                    .bind(row.id)
                    .bind(row.message)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn delete_pending_inbound_batch(&self, keys: &[PendingInboundKey<'_>]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for key in keys {
                sqlx::query(DELETE_PENDING)
                    .bind(self.device_id)
                    .bind(key.chat)
                    .bind(key.sender)
                    .bind(key.id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }
}
