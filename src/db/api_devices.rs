//! The device API's devices: per Matrix user, named slots that hold one login each.

use ruma::UserId;

use super::{Db, with_pool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiDeviceRow {
    pub device_id: String,
    pub name: String,
    pub created_at_ms: i64,
    /// The login (its WhatsApp device row) this device holds, if logged in.
    pub login_device: Option<i32>,
}

type Row = (String, String, i64, Option<i32>);

fn row((device_id, name, created_at_ms, login_device): Row) -> ApiDeviceRow {
    ApiDeviceRow {
        device_id,
        name,
        created_at_ms,
        login_device,
    }
}

impl Db {
    /// Adds a device; false when the user has one of that ID already.
    pub async fn create_api_device(
        &self,
        user: &UserId,
        device_id: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        let done = with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO api_device (user_id, device_id, name, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (user_id, device_id) DO NOTHING",
            )
            .bind(user.as_str())
            .bind(device_id)
            .bind(name)
            .bind(now_ms)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(done == 1)
    }

    pub async fn api_devices_of(&self, user: &UserId) -> Result<Vec<ApiDeviceRow>, sqlx::Error> {
        let found: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, name, created_at, login_device FROM api_device \
                 WHERE user_id = $1 ORDER BY created_at, device_id",
            )
            .bind(user.as_str())
            .fetch_all(pool)
            .await?
        });
        Ok(found.into_iter().map(row).collect())
    }

    pub async fn api_device(
        &self,
        user: &UserId,
        device_id: &str,
    ) -> Result<Option<ApiDeviceRow>, sqlx::Error> {
        let found: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, name, created_at, login_device FROM api_device \
                 WHERE user_id = $1 AND device_id = $2",
            )
            .bind(user.as_str())
            .bind(device_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.map(row))
    }

    /// Removes the device (not its login); false when there was none.
    pub async fn delete_api_device(
        &self,
        user: &UserId,
        device_id: &str,
    ) -> Result<bool, sqlx::Error> {
        let done = with_pool!(self, |pool| {
            sqlx::query("DELETE FROM api_device WHERE user_id = $1 AND device_id = $2")
                .bind(user.as_str())
                .bind(device_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }
}
