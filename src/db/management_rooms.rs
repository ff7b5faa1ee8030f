//! Each Matrix user's management room: their direct chat with the bot.

use ruma::{OwnedRoomId, RoomId, UserId};

use super::{Db, with_pool};

impl Db {
    pub async fn management_room(&self, user: &UserId) -> Result<Option<OwnedRoomId>, sqlx::Error> {
        let room: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT room_id FROM management_room WHERE user_id = $1")
                .bind(user.as_str())
                .fetch_optional(pool)
                .await?
        });
        // A row we cannot parse is treated as absent; the next DM replaces it.
        Ok(room.and_then(|room| RoomId::parse(room).ok()))
    }

    pub async fn set_management_room(
        &self,
        user: &UserId,
        room: &RoomId,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO management_room (user_id, room_id, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (user_id) DO UPDATE SET room_id = excluded.room_id, updated_at = excluded.updated_at",
            )
            .bind(user.as_str())
            .bind(room.as_str())
            .bind(now_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// Forgets `room` as a management room, for whoever had it.
    pub async fn forget_management_room(&self, room: &RoomId) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query("DELETE FROM management_room WHERE room_id = $1")
                .bind(room.as_str())
                .execute(pool)
                .await
                .map(drop)
        })
    }
}
