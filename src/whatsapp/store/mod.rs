//! whatsapp-rust's storage (`Backend`) on the bridge's own database, SQLite or Postgres.
//! One `WaStore` serves one linked device; every row carries that device's ID, and
//! deleting the device row deletes all of its state.

mod app_sync;
mod device;
mod msg_secret;
mod protocol;
mod signal;

use std::sync::Arc;

use wacore::store::error::StoreError;

use crate::clock::Clock;
use crate::db::{Db, with_pool};

#[derive(Debug, Clone)]
pub struct WaStore {
    db: Db,
    device_id: i32,
    clock: Arc<dyn Clock>,
}

impl WaStore {
    /// Allocates a new device row and returns its ID.
    pub async fn create_device(db: &Db) -> Result<i32, sqlx::Error> {
        // Two logins starting at once may pick the same next number (Postgres reads
        // MAX(id) without a lock); the one that loses takes the number after.
        let mut tries = 0;
        loop {
            let created = with_pool!(db, |pool| {
                sqlx::query_scalar::<_, i32>(
                    "INSERT INTO wa_device (id) SELECT COALESCE(MAX(id), 0) + 1 FROM wa_device RETURNING id",
                )
                .fetch_one(pool)
                .await
            });
            match created {
                Err(sqlx::Error::Database(err)) if err.is_unique_violation() && tries < 20 => {
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// Deletes a device and, through the foreign keys, all of its protocol state.
    pub async fn delete_device(db: &Db, device_id: i32) -> Result<(), sqlx::Error> {
        with_pool!(db, |pool| {
            sqlx::query("DELETE FROM wa_device WHERE id = $1")
                .bind(device_id)
                .execute(pool)
                .await
                .map(drop)
        })
    }

    pub fn open(db: Db, device_id: i32, clock: Arc<dyn Clock>) -> Self {
        Self {
            db,
            device_id,
            clock,
        }
    }

    pub fn device_id(&self) -> i32 {
        self.device_id
    }

    fn now_secs(&self) -> i64 {
        self.clock.now_ms() / 1000
    }

    /// `sql` deletes by (device, one text key).
    async fn delete_where(&self, sql: &'static str, key: &str) -> Result<(), StoreError> {
        with_pool!(&self.db, |pool| {
            sqlx::query(sql)
                .bind(self.device_id)
                .bind(key)
                .execute(pool)
                .await
                .map(drop)
                .map_err(db_err)
        })
    }

    /// `sql` selects one blob by (device, one text key).
    async fn blob_where(
        &self,
        sql: &'static str,
        key: &str,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar::<_, Vec<u8>>(sql)
                .bind(self.device_id)
                .bind(key)
                .fetch_optional(pool)
                .await
                .map_err(db_err)
        })
    }

    /// `sql` deletes by (device, a cutoff time); returns how many rows went.
    async fn delete_before(&self, sql: &'static str, cutoff: i64) -> Result<u32, StoreError> {
        let deleted = with_pool!(&self.db, |pool| {
            sqlx::query(sql)
                .bind(self.device_id)
                .bind(cutoff)
                .execute(pool)
                .await
                .map_err(db_err)?
                .rows_affected()
        });
        row_count(deleted)
    }
}

/// The library counts deleted rows in a u32.
fn row_count(rows: u64) -> Result<u32, StoreError> {
    u32::try_from(rows).map_err(|_| StoreError::Validation("too many rows deleted to count".into()))
}

fn db_err(err: sqlx::Error) -> StoreError {
    StoreError::Database(Box::new(err))
}

fn serde_err(err: serde_json::Error) -> StoreError {
    StoreError::Serialization(Box::new(err))
}

/// Key IDs are u32 on the wire and BIGINT in the tables.
fn key_id_from_db(value: i64) -> Result<u32, StoreError> {
    u32::try_from(value)
        .map_err(|_| StoreError::Validation(format!("stored key ID {value} is out of range")))
}
