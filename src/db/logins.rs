//! Finished logins: a Matrix user's linked WhatsApp accounts.

use ruma::{OwnedUserId, UserId};

use super::{Db, with_pool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRow {
    pub device_id: i32,
    pub user_id: OwnedUserId,
    /// International digits, no `+`.
    pub phone: String,
    pub created_at_ms: i64,
    /// When the account's phone was last heard from (ms), if ever.
    pub phone_last_seen_ms: Option<i64>,
}

type Row = (i32, String, String, i64, Option<i64>);

fn rows(rows: Vec<Row>) -> Vec<LoginRow> {
    rows.into_iter()
        // A row whose user ID no longer parses is skipped, not fatal.
        .filter_map(
            |(device_id, user, phone, created_at_ms, phone_last_seen_ms)| {
                Some(LoginRow {
                    device_id,
                    user_id: UserId::parse(user).ok()?,
                    phone,
                    created_at_ms,
                    phone_last_seen_ms,
                })
            },
        )
        .collect()
}

impl Db {
    /// Stores a finished login, and puts it in the user's device-API device when it came
    /// from there, in one transaction.
    pub async fn add_login(
        &self,
        device_id: i32,
        user: &UserId,
        phone: &str,
        now_ms: i64,
        api_device: Option<&str>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO login (device_id, user_id, phone, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (device_id) DO UPDATE SET user_id = excluded.user_id, phone = excluded.phone",
            )
            .bind(device_id)
            .bind(user.as_str())
            .bind(phone)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
            if let Some(api_device) = api_device {
                sqlx::query(
                    "UPDATE api_device SET login_device = $3 WHERE user_id = $1 AND device_id = $2",
                )
                .bind(user.as_str())
                .bind(api_device)
                .bind(device_id)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await
        })
    }

    pub async fn logins_of(&self, user: &UserId) -> Result<Vec<LoginRow>, sqlx::Error> {
        let found: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, user_id, phone, created_at, phone_last_seen FROM login WHERE user_id = $1 ORDER BY created_at, device_id",
            )
            .bind(user.as_str())
            .fetch_all(pool)
            .await?
        });
        Ok(rows(found))
    }

    pub async fn all_logins(&self) -> Result<Vec<LoginRow>, sqlx::Error> {
        let found: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, user_id, phone, created_at, phone_last_seen FROM login ORDER BY device_id",
            )
            .fetch_all(pool)
            .await?
        });
        Ok(rows(found))
    }

    /// Records when the account's phone was last heard from; never moves it back.
    pub async fn set_phone_last_seen(&self, device_id: i32, at_ms: i64) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE login SET phone_last_seen = $2 WHERE device_id = $1 \
                 AND (phone_last_seen IS NULL OR phone_last_seen < $2)",
            )
            .bind(device_id)
            .bind(at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// When the watchdog last warned about the phone's silence and last pinged it.
    pub async fn phone_watch_marks(
        &self,
        device_id: i32,
    ) -> Result<(Option<i64>, Option<i64>), sqlx::Error> {
        let found: Option<(Option<i64>, Option<i64>)> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT phone_warned_at, phone_pinged_at FROM login WHERE device_id = $1",
            )
            .bind(device_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(found.unwrap_or_default())
    }

    pub async fn set_phone_watch_marks(
        &self,
        device_id: i32,
        warned_at_ms: Option<i64>,
        pinged_at_ms: Option<i64>,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE login SET phone_warned_at = $2, phone_pinged_at = $3 WHERE device_id = $1",
            )
            .bind(device_id)
            .bind(warned_at_ms)
            .bind(pinged_at_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    pub async fn login_of_device(&self, device_id: i32) -> Result<Option<LoginRow>, sqlx::Error> {
        let found: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, user_id, phone, created_at, phone_last_seen FROM login WHERE device_id = $1",
            )
            .bind(device_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows(found).into_iter().next())
    }
}
