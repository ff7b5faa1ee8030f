//! Signal protocol state: identities, sessions, pre-keys, signed pre-keys, sender keys.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use wacore::store::error::{Result, StoreError};
use wacore::store::traits::SignalStore;

use super::{WaStore, db_err, key_id_from_db};
use crate::db::with_pool;

const PUT_IDENTITY: &str = "INSERT INTO wa_identity (device_id, address, identity_key) VALUES ($1, $2, $3) \
     ON CONFLICT (device_id, address) DO UPDATE SET identity_key = excluded.identity_key";
const PUT_SESSION: &str = "INSERT INTO wa_session (device_id, address, record) VALUES ($1, $2, $3) \
     ON CONFLICT (device_id, address) DO UPDATE SET record = excluded.record";
const PUT_PREKEY: &str = "INSERT INTO wa_prekey (device_id, key_id, record, uploaded) VALUES ($1, $2, $3, $4) \
     ON CONFLICT (device_id, key_id) DO UPDATE SET record = excluded.record, uploaded = excluded.uploaded";
const PUT_SENDER_KEY: &str = "INSERT INTO wa_sender_key (device_id, address, record) VALUES ($1, $2, $3) \
     ON CONFLICT (device_id, address) DO UPDATE SET record = excluded.record";

impl WaStore {
    /// Runs `sql` once per (key, blob) pair in one transaction.
    async fn put_blobs(&self, sql: &'static str, rows: &[(Arc<str>, Bytes)]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for (key, blob) in rows {
                sqlx::query(sql)
                    .bind(self.device_id)
                    .bind(key.as_ref())
                    .bind(blob.as_ref())
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }
}

#[async_trait]
impl SignalStore for WaStore {
    async fn put_identity(&self, address: &str, key: [u8; 32]) -> Result<()> {
        let rows = [(Arc::from(address), Bytes::copy_from_slice(&key))];
        self.put_blobs(PUT_IDENTITY, &rows).await
    }

    async fn put_identities_batch(&self, identities: &[(Arc<str>, [u8; 32])]) -> Result<()> {
        let rows: Vec<(Arc<str>, Bytes)> = identities
            .iter()
            .map(|(address, key)| (address.clone(), Bytes::copy_from_slice(key)))
            .collect();
        self.put_blobs(PUT_IDENTITY, &rows).await
    }

    async fn load_identity(&self, address: &str) -> Result<Option<[u8; 32]>> {
        let stored = self
            .blob_where(
                "SELECT identity_key FROM wa_identity WHERE device_id = $1 AND address = $2",
                address,
            )
            .await?;
        stored
            .map(|bytes| {
                <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
                    StoreError::Validation(format!("stored identity for {address} is not 32 bytes"))
                })
            })
            .transpose()
    }

    async fn delete_identity(&self, address: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_identity WHERE device_id = $1 AND address = $2",
            address,
        )
        .await
    }

    async fn get_session(&self, address: &str) -> Result<Option<Bytes>> {
        let stored = self
            .blob_where(
                "SELECT record FROM wa_session WHERE device_id = $1 AND address = $2",
                address,
            )
            .await?;
        Ok(stored.map(Bytes::from))
    }

    async fn put_session(&self, address: &str, session: &[u8]) -> Result<()> {
        self.put_blobs(
            PUT_SESSION,
            &[(Arc::from(address), Bytes::copy_from_slice(session))],
        )
        .await
    }

    async fn put_sessions_batch(&self, sessions: &[(Arc<str>, Bytes)]) -> Result<()> {
        self.put_blobs(PUT_SESSION, sessions).await
    }

    async fn delete_session(&self, address: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_session WHERE device_id = $1 AND address = $2",
            address,
        )
        .await
    }

    async fn has_signal_state_for_user(&self, user: &str) -> Result<bool> {
        // Addresses are `user@server` or `user:device@server`.
        let at = format!("{user}@");
        let colon = format!("{user}:");
        let length =
            i32::try_from(at.len()).map_err(|_| StoreError::Validation("user too long".into()))?;
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT (SELECT COUNT(*) FROM wa_session WHERE device_id = $1 AND substr(address, 1, $2) IN ($3, $4)) \
                      + (SELECT COUNT(*) FROM wa_identity WHERE device_id = $1 AND substr(address, 1, $2) IN ($3, $4))",
            )
            .bind(self.device_id)
            .bind(length)
            .bind(&at)
            .bind(&colon)
            .fetch_one(pool)
            .await
            .map(|count| count > 0)
            .map_err(db_err)
        })
    }

    async fn store_prekey(&self, id: u32, record: &[u8], uploaded: bool) -> Result<()> {
        self.store_prekeys_batch(&[(id, Bytes::copy_from_slice(record))], uploaded)
            .await
    }

    async fn store_prekeys_batch(&self, keys: &[(u32, Bytes)], uploaded: bool) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for (id, record) in keys {
                sqlx::query(PUT_PREKEY)
                    .bind(self.device_id)
                    .bind(i64::from(*id))
                    .bind(record.as_ref())
                    .bind(uploaded)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn load_prekey(&self, id: u32) -> Result<Option<Bytes>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, Vec<u8>>(
                "SELECT record FROM wa_prekey WHERE device_id = $1 AND key_id = $2",
            )
            .bind(self.device_id)
            .bind(i64::from(id))
            .fetch_optional(pool)
            .await
            .map(|found| found.map(Bytes::from))
            .map_err(db_err)
        })
    }

    async fn mark_prekeys_uploaded(&self, ids: &[u32]) -> Result<()> {
        // UPDATE only: a key consumed meanwhile must stay deleted.
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for id in ids {
                sqlx::query(
                    "UPDATE wa_prekey SET uploaded = TRUE WHERE device_id = $1 AND key_id = $2",
                )
                .bind(self.device_id)
                .bind(i64::from(*id))
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn remove_prekey(&self, id: u32) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM wa_prekey WHERE device_id = $1 AND key_id = $2")
                .bind(self.device_id)
                .bind(i64::from(id))
                .execute(pool)
                .await
                .map(drop)
                .map_err(db_err)
        })
    }

    async fn get_max_prekey_id(&self) -> Result<u32> {
        let max: i64 = with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(key_id), 0) FROM wa_prekey WHERE device_id = $1",
            )
            .bind(self.device_id)
            .fetch_one(pool)
            .await
            .map_err(db_err)?
        });
        key_id_from_db(max)
    }

    async fn store_signed_prekey(&self, id: u32, record: &[u8]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_signed_prekey (device_id, key_id, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (device_id, key_id) DO UPDATE SET record = excluded.record",
            )
            .bind(self.device_id)
            .bind(i64::from(id))
            .bind(record)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn load_signed_prekey(&self, id: u32) -> Result<Option<Vec<u8>>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT record FROM wa_signed_prekey WHERE device_id = $1 AND key_id = $2",
            )
            .bind(self.device_id)
            .bind(i64::from(id))
            .fetch_optional(pool)
            .await
            .map_err(db_err)
        })
    }

    async fn load_all_signed_prekeys(&self) -> Result<Vec<(u32, Vec<u8>)>> {
        let rows: Vec<(i64, Vec<u8>)> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT key_id, record FROM wa_signed_prekey WHERE device_id = $1 ORDER BY key_id",
            )
            .bind(self.device_id)
            .fetch_all(pool)
            .await
            .map_err(db_err)?
        });
        rows.into_iter()
            .map(|(id, record)| Ok((key_id_from_db(id)?, record)))
            .collect()
    }

    async fn remove_signed_prekey(&self, id: u32) -> Result<()> {
        with_pool!(&self.db, |pool| {
            sqlx::query("DELETE FROM wa_signed_prekey WHERE device_id = $1 AND key_id = $2")
                .bind(self.device_id)
                .bind(i64::from(id))
                .execute(pool)
                .await
                .map(drop)
                .map_err(db_err)
        })
    }

    async fn put_sender_key(&self, address: &str, record: &[u8]) -> Result<()> {
        self.put_blobs(
            PUT_SENDER_KEY,
            &[(Arc::from(address), Bytes::copy_from_slice(record))],
        )
        .await
    }

    async fn put_sender_keys_batch(&self, sender_keys: &[(Arc<str>, Bytes)]) -> Result<()> {
        self.put_blobs(PUT_SENDER_KEY, sender_keys).await
    }

    async fn get_sender_key(&self, address: &str) -> Result<Option<Vec<u8>>> {
        self.blob_where(
            "SELECT record FROM wa_sender_key WHERE device_id = $1 AND address = $2",
            address,
        )
        .await
    }

    async fn delete_sender_key(&self, address: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_sender_key WHERE device_id = $1 AND address = $2",
            address,
        )
        .await
    }
}
