//! App-state sync: sync keys, collection versions and mutation MACs.

use async_trait::async_trait;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::error::Result;
use wacore::store::traits::{AppStateSyncKey, AppSyncStore};

use super::{WaStore, db_err, serde_err};
use crate::db::with_pool;

#[async_trait]
impl AppSyncStore for WaStore {
    async fn get_sync_key(&self, key_id: &[u8]) -> Result<Option<AppStateSyncKey>> {
        let row: Option<(Vec<u8>, Vec<u8>, i64)> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT key_data, fingerprint, key_timestamp FROM wa_app_sync_key WHERE device_id = $1 AND key_id = $2",
            )
            .bind(self.device_id)
            .bind(key_id)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        Ok(
            row.map(|(key_data, fingerprint, timestamp)| AppStateSyncKey {
                key_data,
                fingerprint,
                timestamp,
            }),
        )
    }

    async fn set_sync_key(&self, key_id: &[u8], key: AppStateSyncKey) -> Result<()> {
        // stored_seq orders keys by when they were stored, for get_latest_sync_key_id.
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_app_sync_key (device_id, key_id, key_data, fingerprint, key_timestamp, stored_seq) \
                 VALUES ($1, $2, $3, $4, $5, (SELECT COALESCE(MAX(stored_seq), 0) + 1 FROM wa_app_sync_key WHERE device_id = $1)) \
                 ON CONFLICT (device_id, key_id) DO UPDATE SET key_data = excluded.key_data, \
                 fingerprint = excluded.fingerprint, key_timestamp = excluded.key_timestamp, stored_seq = excluded.stored_seq",
            )
            .bind(self.device_id)
            .bind(key_id)
            .bind(&key.key_data)
            .bind(&key.fingerprint)
            .bind(key.timestamp)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn get_version(&self, name: &str) -> Result<HashState> {
        let stored: Option<Vec<u8>> = with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT state FROM wa_app_state_version WHERE device_id = $1 AND name = $2",
            )
            .bind(self.device_id)
            .bind(name)
            .fetch_optional(pool)
            .await
            .map_err(db_err)?
        });
        match stored {
            Some(bytes) => serde_json::from_slice(&bytes).map_err(serde_err),
            None => Ok(HashState::default()),
        }
    }

    async fn set_version(&self, name: &str, state: HashState) -> Result<()> {
        let bytes = serde_json::to_vec(&state).map_err(serde_err)?;
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_app_state_version (device_id, name, state) VALUES ($1, $2, $3) \
                 ON CONFLICT (device_id, name) DO UPDATE SET state = excluded.state",
            )
            .bind(self.device_id)
            .bind(name)
            .bind(&bytes)
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn put_mutation_macs(
        &self,
        name: &str,
        version: u64,
        mutations: &[AppStateMutationMAC],
    ) -> Result<()> {
        let version = i64::try_from(version).unwrap_or(i64::MAX);
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for mutation in mutations {
                sqlx::query(
                    "INSERT INTO wa_mutation_mac (device_id, name, index_mac, version, value_mac) VALUES ($1, $2, $3, $4, $5) \
                     ON CONFLICT (device_id, name, index_mac) DO UPDATE SET version = excluded.version, value_mac = excluded.value_mac",
                )
                .bind(self.device_id)
                .bind(name)
                .bind(&mutation.index_mac)
                .bind(version)
                .bind(&mutation.value_mac)
                .execute(&mut *tx)
                .await
                .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn get_mutation_mac(&self, name: &str, index_mac: &[u8]) -> Result<Option<Vec<u8>>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT value_mac FROM wa_mutation_mac WHERE device_id = $1 AND name = $2 AND index_mac = $3",
            )
            .bind(self.device_id)
            .bind(name)
            .bind(index_mac)
            .fetch_optional(pool)
            .await
            .map_err(db_err)
        })
    }

    async fn delete_mutation_macs(&self, name: &str, index_macs: &[Vec<u8>]) -> Result<()> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await.map_err(db_err)?;
            for index_mac in index_macs {
                sqlx::query("DELETE FROM wa_mutation_mac WHERE device_id = $1 AND name = $2 AND index_mac = $3")
                    .bind(self.device_id)
                    .bind(name)
                    .bind(index_mac)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_err)?;
            }
            tx.commit().await.map_err(db_err)
        })
    }

    async fn clear_mutation_macs(&self, name: &str) -> Result<()> {
        self.delete_where(
            "DELETE FROM wa_mutation_mac WHERE device_id = $1 AND name = $2",
            name,
        )
        .await
    }

    async fn get_latest_sync_key_id(&self) -> Result<Option<Vec<u8>>> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT key_id FROM wa_app_sync_key WHERE device_id = $1 ORDER BY stored_seq DESC LIMIT 1",
            )
            .bind(self.device_id)
            .fetch_optional(pool)
            .await
            .map_err(db_err)
        })
    }
}
