//! Ghosts: what the bridge last set a contact's Matrix profile to, so it is set only
//! when it changes.

use super::{Db, with_pool};

impl Db {
    pub async fn ghost_display_name(
        &self,
        identifier: &str,
    ) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT display_name FROM ghost WHERE identifier = $1")
                .bind(identifier)
                .fetch_optional(pool)
                .await
        })
    }

    pub async fn set_ghost_display_name(
        &self,
        identifier: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO ghost (identifier, display_name, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (identifier) DO UPDATE SET display_name = excluded.display_name, updated_at = excluded.updated_at",
            )
            .bind(identifier)
            .bind(name)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// The name the contact has in a user's phone address book, if the bridge was told.
    pub async fn contact_name(&self, identifier: &str) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT name FROM contact_name WHERE identifier = $1")
                .bind(identifier)
                .fetch_optional(pool)
                .await
        })
    }

    /// Remembers a contact's address-book name; true when it is new or changed.
    pub async fn set_contact_name(
        &self,
        identifier: &str,
        name: &str,
        now_ms: i64,
    ) -> Result<bool, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO contact_name (identifier, name, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (identifier) DO UPDATE SET name = excluded.name, updated_at = excluded.updated_at \
                 WHERE contact_name.name <> excluded.name",
            )
            .bind(identifier)
            .bind(name)
            .bind(now_ms)
            .execute(pool)
            .await
            .map(|done| done.rows_affected() > 0)
        })
    }

    /// The WhatsApp picture the ghost's avatar shows ('' for none); None for an unknown ghost.
    pub async fn ghost_avatar_id(&self, identifier: &str) -> Result<Option<String>, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar("SELECT avatar_id FROM ghost WHERE identifier = $1")
                .bind(identifier)
                .fetch_optional(pool)
                .await
        })
    }

    pub async fn set_ghost_avatar_id(
        &self,
        identifier: &str,
        avatar_id: &str,
        now_ms: i64,
    ) -> Result<(), sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query("UPDATE ghost SET avatar_id = $2, updated_at = $3 WHERE identifier = $1")
                .bind(identifier)
                .bind(avatar_id)
                .bind(now_ms)
                .execute(pool)
                .await
                .map(drop)
        })
    }

    /// Ghosts whose name or number contains `query` (case-insensitive), by name; at most
    /// `limit`. Returns (identifier, display name).
    pub async fn search_ghosts(
        &self,
        query: &str,
        limit: i64,
    ) -> Result<Vec<(String, String)>, sqlx::Error> {
        let escaped: String = query
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        with_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT identifier, display_name FROM ghost \
                 WHERE LOWER(display_name) LIKE $1 ESCAPE '\\' OR identifier LIKE $1 ESCAPE '\\' \
                 ORDER BY display_name, identifier LIMIT $2",
            )
            .bind(&pattern)
            .bind(limit)
            .fetch_all(pool)
            .await
        })
    }

    /// Everyone a linked device has heard from or chats with directly (JIDs).
    pub async fn known_people(&self, device_id: i32) -> Result<Vec<String>, sqlx::Error> {
        with_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT wa_sender FROM message_map WHERE device_id = $1 \
                 UNION SELECT chat_jid FROM portal WHERE device_id = $1 AND NOT is_group",
            )
            .bind(device_id)
            .fetch_all(pool)
            .await
        })
    }
}
