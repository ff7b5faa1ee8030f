//! The device itself: its keys and identity, stored as one serialized record.

use async_trait::async_trait;
use wacore::store::Device;
use wacore::store::error::Result;
use wacore::store::traits::DeviceStore;

use super::{WaStore, db_err, serde_err};
use crate::db::with_pool;

#[async_trait]
impl DeviceStore for WaStore {
    async fn save(&self, device: &Device) -> Result<()> {
        let bytes = serde_json::to_vec(device).map_err(serde_err)?;
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_device (id, data, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at",
            )
            .bind(self.device_id)
            .bind(&bytes)
            .bind(self.now_secs())
            .execute(pool)
            .await
            .map(drop)
            .map_err(db_err)
        })
    }

    async fn load(&self) -> Result<Option<Device>> {
        let stored: Option<Option<Vec<u8>>> = with_pool!(&self.db, |pool| {
            sqlx::query_scalar("SELECT data FROM wa_device WHERE id = $1")
                .bind(self.device_id)
                .fetch_optional(pool)
                .await
                .map_err(db_err)?
        });
        match stored.flatten() {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(serde_err),
            None => Ok(None),
        }
    }

    async fn exists(&self) -> Result<bool> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM wa_device WHERE id = $1")
                .bind(self.device_id)
                .fetch_one(pool)
                .await
                .map(|count| count > 0)
                .map_err(db_err)
        })
    }

    /// The store already names its device; creating makes sure that row exists.
    async fn create(&self) -> Result<i32> {
        with_pool!(&self.db, |pool| {
            sqlx::query("INSERT INTO wa_device (id) VALUES ($1) ON CONFLICT (id) DO NOTHING")
                .bind(self.device_id)
                .execute(pool)
                .await
                .map(drop)
                .map_err(db_err)?
        });
        Ok(self.device_id)
    }
}
