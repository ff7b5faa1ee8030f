//! Portals: which Matrix room mirrors which WhatsApp chat of a linked device.

use ruma::{OwnedRoomId, RoomId};

use super::{Db, with_pool};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortalRow {
    pub device_id: i32,
    /// The chat's JID as WhatsApp writes it (`…@s.whatsapp.net`, `…@g.us`).
    pub chat_jid: String,
    pub room_id: OwnedRoomId,
    pub is_group: bool,
}

type Row = (i32, String, String, bool);

fn portal((device_id, chat_jid, room, is_group): Row) -> Option<PortalRow> {
    Some(PortalRow {
        device_id,
        chat_jid,
        room_id: RoomId::parse(room).ok()?,
        is_group,
    })
}

impl Db {
    pub async fn portal_for_chat(
        &self,
        device_id: i32,
        chat_jid: &str,
    ) -> Result<Option<PortalRow>, sqlx::Error> {
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, chat_jid, room_id, is_group FROM portal WHERE device_id = $1 AND chat_jid = $2",
            )
            .bind(device_id)
            .bind(chat_jid)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.and_then(portal))
    }

    pub async fn portal_for_room(&self, room: &RoomId) -> Result<Option<PortalRow>, sqlx::Error> {
        let row: Option<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, chat_jid, room_id, is_group FROM portal WHERE room_id = $1",
            )
            .bind(room.as_str())
            .fetch_optional(pool)
            .await?
        });
        Ok(row.and_then(portal))
    }

    /// Records a portal; the first room recorded for a chat wins (and is returned).
    pub async fn add_portal(
        &self,
        row: &PortalRow,
        now_ms: i64,
    ) -> Result<Option<PortalRow>, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO portal (device_id, chat_jid, room_id, is_group, created_at) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (device_id, chat_jid) DO NOTHING",
            )
            .bind(row.device_id)
            .bind(&row.chat_jid)
            .bind(row.room_id.as_str())
            .bind(row.is_group)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(drop)
        })?;
        self.portal_for_chat(row.device_id, &row.chat_jid).await
    }

    /// The owner's read receipt goes to `event` when they join the portal.
    pub async fn set_read_on_join(&self, room: &RoomId, event: &str) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE portal SET read_on_join = $2 WHERE room_id = $1")
                .bind(room.as_str())
                .bind(event)
                .execute(pool)
                .await
                .map(drop)
        })
    }

    /// The event the owner's read receipt should go to now that they joined (once).
    pub async fn take_read_on_join(&self, room: &RoomId) -> Result<Option<String>, sqlx::Error> {
        let event: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT read_on_join FROM portal WHERE room_id = $1")
                .bind(room.as_str())
                .fetch_optional(pool)
                .await
        })?;
        let Some(event) = event.filter(|event| !event.is_empty()) else {
            return Ok(None);
        };
        self.set_read_on_join(room, "").await?;
        Ok(Some(event))
    }

    /// The chat's portal is another room from now on.
    pub async fn move_portal(
        &self,
        device_id: i32,
        chat_jid: &str,
        room: &RoomId,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "UPDATE portal SET room_id = $3, read_on_join = '', avatar_id = '' WHERE device_id = $1 AND chat_jid = $2",
            )
            .bind(device_id)
            .bind(chat_jid)
            .bind(room.as_str())
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// The group portals of a device.
    pub async fn group_portals(&self, device_id: i32) -> Result<Vec<PortalRow>, sqlx::Error> {
        self.portals_of(device_id, true).await
    }

    /// The direct chat portals of a device.
    pub async fn direct_portals(&self, device_id: i32) -> Result<Vec<PortalRow>, sqlx::Error> {
        self.portals_of(device_id, false).await
    }

    async fn portals_of(
        &self,
        device_id: i32,
        groups: bool,
    ) -> Result<Vec<PortalRow>, sqlx::Error> {
        let rows: Vec<Row> = with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT device_id, chat_jid, room_id, is_group FROM portal WHERE device_id = $1 AND is_group = $2 ORDER BY chat_jid",
            )
            .bind(device_id)
            .bind(groups)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().filter_map(portal).collect())
    }

    /// The WhatsApp picture a portal's avatar shows ('' for none).
    pub async fn portal_avatar_id(&self, room: &RoomId) -> Result<String, sqlx::Error> {
        let id: Option<String> = with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT avatar_id FROM portal WHERE room_id = $1")
                .bind(room.as_str())
                .fetch_optional(pool)
                .await
        })?;
        Ok(id.unwrap_or_default())
    }

    pub async fn set_portal_avatar_id(
        &self,
        room: &RoomId,
        avatar_id: &str,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE portal SET avatar_id = $2 WHERE room_id = $1")
                .bind(room.as_str())
                .bind(avatar_id)
                .execute(pool)
                .await
                .map(drop)
        })
    }
}
