//! History sync, kept: every payload the phone sends is written as it came (still
//! compressed) the moment it arrives, then read into chats and messages. Nothing is
//! thrown away after backfill; the bridge fills portals from here.

mod read;

use std::sync::Arc;

use wacore::types::events::LazyHistorySync;
use whatsapp_rust::waproto::whatsapp as wa;

pub use read::{HistoryChat, ReadHistory};

use crate::db::{Db, with_pool};
use crate::whatsapp::inbox::InboxEntry;

/// What a stored payload was, as the phone labelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    InitialBootstrap,
    Recent,
    Full,
    PushNames,
    OnDemand,
    Other(i32),
}

impl SyncKind {
    pub fn of(code: i32) -> Self {
        use wa::history_sync::HistorySyncType as T;
        match code {
            c if c == T::INITIAL_BOOTSTRAP as i32 => Self::InitialBootstrap,
            c if c == T::RECENT as i32 => Self::Recent,
            c if c == T::FULL as i32 => Self::Full,
            c if c == T::PUSH_NAME as i32 => Self::PushNames,
            c if c == T::ON_DEMAND as i32 => Self::OnDemand,
            other => Self::Other(other),
        }
    }
}

/// What reading the waiting payloads brought.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HistoryRead {
    pub payloads: usize,
    pub chats: usize,
    pub messages: usize,
    /// Payloads that could not be decoded (kept, and logged).
    pub unreadable: usize,
    /// Whether one of them answered an on-demand request.
    pub on_demand: bool,
}

/// Where a chat is on its way into Matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackfillState {
    Stored,
    Queued,
    Done,
}

impl BackfillState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stored => "stored",
            Self::Queued => "queued",
            Self::Done => "done",
        }
    }
}

type ChatRow = (String, String, i32, bool, bool, i64, i64);

fn chat_of(
    (chat, name, unread_count, pinned, archived, muted_until_ms, last_message_ms): ChatRow,
) -> HistoryChat {
    HistoryChat {
        chat,
        name,
        unread_count,
        pinned,
        archived,
        muted_until_ms,
        last_message_ms,
    }
}

const CHAT_COLUMNS: &str =
    "chat, name, unread_count, pinned, archived, muted_until_ms, last_message_ms";
const MESSAGE_COLUMNS: &str = "CAST(0 AS BIGINT) AS seq, chat, sender, sender_alt, message_id, sent_at_ms, push_name, from_me, payload, FALSE AS undecryptable, '' AS business_name";

#[derive(Debug, Clone)]
pub struct HistoryStore {
    db: Db,
    device_id: i32,
    /// One reader at a time, so two payloads arriving together are read in order.
    reading: Arc<tokio::sync::Mutex<()>>,
}

impl HistoryStore {
    pub fn new(db: Db, device_id: i32) -> Self {
        Self {
            db,
            device_id,
            reading: Arc::default(),
        }
    }

    /// Writes the payload as it came; returns its row.
    pub async fn keep(&self, payload: &LazyHistorySync, now_ms: i64) -> Result<i64, sqlx::Error> {
        let size = i64::try_from(payload.decompressed_size()).unwrap_or(i64::MAX);
        let chunk = i32::try_from(payload.chunk_order().unwrap_or(0)).unwrap_or(0);
        let progress = i32::try_from(payload.progress().unwrap_or(0)).unwrap_or(0);
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "INSERT INTO wa_history_blob (device_id, sync_type, chunk_order, progress, received_at, compressed, decompressed_size) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(self.device_id)
            .bind(payload.sync_type())
            .bind(chunk)
            .bind(progress)
            .bind(now_ms)
            .bind(payload.compressed_bytes().as_ref())
            .bind(size)
            .fetch_one(pool)
            .await
        })
    }

    /// Reads every payload not read yet (after a crash too) into chats and messages,
    /// each payload in one transaction.
    pub async fn read_waiting(
        &self,
        own_jid: &str,
        now_ms: i64,
    ) -> Result<HistoryRead, sqlx::Error> {
        let _one_reader = self.reading.lock().await;
        let waiting: Vec<(i64, i32, Vec<u8>, i64)> = with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT id, sync_type, compressed, decompressed_size FROM wa_history_blob \
                 WHERE device_id = $1 AND NOT parsed ORDER BY id",
            )
            .bind(self.device_id)
            .fetch_all(pool)
            .await
        })?;
        let mut outcome = HistoryRead::default();
        for (id, sync_type, compressed, size) in waiting {
            outcome.payloads += 1;
            outcome.on_demand |= SyncKind::of(sync_type) == SyncKind::OnDemand;
            let payload = LazyHistorySync::new(
                compressed.into(),
                usize::try_from(size).unwrap_or(0),
                sync_type,
                None,
                None,
            );
            let read = match payload.get() {
                Some(sync) => read::read(sync, own_jid),
                None => {
                    tracing::warn!(
                        device_id = self.device_id,
                        blob = id,
                        "a history payload cannot be decoded; it is kept as it came"
                    );
                    outcome.unreadable += 1;
                    ReadHistory::default()
                }
            };
            outcome.chats += read.chats.len();
            outcome.messages += read.messages.len();
            self.store(id, &read, now_ms).await?;
        }
        Ok(outcome)
    }

    async fn store(&self, blob: i64, read: &ReadHistory, now_ms: i64) -> Result<(), sqlx::Error> {
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            for chat in &read.chats {
                sqlx::query(
                    "INSERT INTO wa_history_chat (device_id, chat, name, unread_count, pinned, archived, muted_until_ms, last_message_ms) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                     ON CONFLICT (device_id, chat) DO UPDATE SET \
                     name = CASE WHEN excluded.name = '' THEN wa_history_chat.name ELSE excluded.name END, \
                     unread_count = excluded.unread_count, pinned = excluded.pinned, archived = excluded.archived, \
                     muted_until_ms = excluded.muted_until_ms, \
                     last_message_ms = CASE WHEN excluded.last_message_ms > wa_history_chat.last_message_ms \
                     THEN excluded.last_message_ms ELSE wa_history_chat.last_message_ms END",
                )
                .bind(self.device_id)
                .bind(&chat.chat)
                .bind(&chat.name)
                .bind(chat.unread_count)
                .bind(chat.pinned)
                .bind(chat.archived)
                .bind(chat.muted_until_ms)
                .bind(chat.last_message_ms)
                .execute(&mut *tx)
                .await?;
            }
            for message in &read.messages {
                sqlx::query(
                    "INSERT INTO wa_history_message (device_id, chat, sender, sender_alt, message_id, sent_at_ms, push_name, from_me, payload) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (device_id, chat, sender, message_id) DO NOTHING",
                )
                .bind(self.device_id)
                .bind(&message.chat)
                .bind(&message.sender)
                .bind(&message.sender_alt)
                .bind(&message.message_id)
                .bind(message.sent_at_ms)
                .bind(&message.push_name)
                .bind(message.from_me)
                .bind(&message.payload)
                .execute(&mut *tx)
                .await?;
            }
            for (lid, phone) in &read.lid_phones {
                sqlx::query(
                    "INSERT INTO lid_phone (lid, phone, learned_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (lid) DO NOTHING",
                )
                .bind(lid)
                .bind(phone)
                .bind(now_ms)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("UPDATE wa_history_blob SET parsed = TRUE WHERE id = $1")
                .bind(blob)
                .execute(&mut *tx)
                .await?;
            tx.commit().await
        })
    }

    /// Chats in `state`, the most recent first.
    pub async fn chats_in(&self, state: BackfillState) -> Result<Vec<HistoryChat>, sqlx::Error> {
        let sql = format!(
            "SELECT {CHAT_COLUMNS} FROM wa_history_chat WHERE device_id = $1 AND backfill = $2 \
             ORDER BY last_message_ms DESC, chat"
        );
        let rows: Vec<ChatRow> = with_pool!(&self.db, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.device_id)
                .bind(state.as_str())
                .fetch_all(pool)
                .await
        })?;
        Ok(rows.into_iter().map(chat_of).collect())
    }

    pub async fn chat(&self, chat: &str) -> Result<Option<HistoryChat>, sqlx::Error> {
        let sql = format!(
            "SELECT {CHAT_COLUMNS} FROM wa_history_chat WHERE device_id = $1 AND chat = $2"
        );
        let row: Option<ChatRow> = with_pool!(&self.db, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.device_id)
                .bind(chat)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row.map(chat_of))
    }

    /// How many chats were ever chosen for a portal (queued or done).
    pub async fn chosen_count(&self) -> Result<i64, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM wa_history_chat WHERE device_id = $1 AND backfill <> 'stored'",
            )
            .bind(self.device_id)
            .fetch_one(pool)
            .await
        })
    }

    /// Where the chat is on its way into Matrix; None when no history names it.
    pub async fn state(&self, chat: &str) -> Result<Option<BackfillState>, sqlx::Error> {
        let state: Option<String> = with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT backfill FROM wa_history_chat WHERE device_id = $1 AND chat = $2",
            )
            .bind(self.device_id)
            .bind(chat)
            .fetch_optional(pool)
            .await
        })?;
        Ok(state.map(|state| match state.as_str() {
            "queued" => BackfillState::Queued,
            "done" => BackfillState::Done,
            _ => BackfillState::Stored,
        }))
    }

    pub async fn set_state(&self, chat: &str, state: BackfillState) -> Result<(), sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "UPDATE wa_history_chat SET backfill = $3 WHERE device_id = $1 AND chat = $2",
            )
            .bind(self.device_id)
            .bind(chat)
            .bind(state.as_str())
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// The chat's newest `limit` messages, oldest first (`limit` < 0: all of them).
    pub async fn newest(&self, chat: &str, limit: i64) -> Result<Vec<InboxEntry>, sqlx::Error> {
        let sql = format!(
            "SELECT * FROM (SELECT {MESSAGE_COLUMNS} FROM wa_history_message \
             WHERE device_id = $1 AND chat = $2 ORDER BY sent_at_ms DESC, message_id DESC LIMIT $3) AS newest \
             ORDER BY sent_at_ms, message_id"
        );
        let limit = if limit < 0 { i64::MAX } else { limit };
        with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, InboxEntry>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.device_id)
                .bind(chat)
                .bind(limit)
                .fetch_all(pool)
                .await
        })
    }

    /// The chat's oldest stored message: where an on-demand request for older ones starts.
    pub async fn oldest(&self, chat: &str) -> Result<Option<InboxEntry>, sqlx::Error> {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM wa_history_message WHERE device_id = $1 AND chat = $2 \
             ORDER BY sent_at_ms, message_id LIMIT 1"
        );
        with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, InboxEntry>(sqlx::AssertSqlSafe(sql.clone()))
                .bind(self.device_id)
                .bind(chat)
                .fetch_optional(pool)
                .await
        })
    }

    /// Keeps only the chat's newest `keep` messages (the explicit storage limit).
    pub async fn trim(&self, keep: i64) -> Result<u64, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "DELETE FROM wa_history_message AS m WHERE device_id = $1 AND \
                 (SELECT COUNT(*) FROM wa_history_message AS newer WHERE newer.device_id = m.device_id \
                 AND newer.chat = m.chat AND (newer.sent_at_ms > m.sent_at_ms \
                 OR (newer.sent_at_ms = m.sent_at_ms AND newer.message_id > m.message_id))) >= $2",
            )
            .bind(self.device_id)
            .bind(keep)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
    }

    /// How many messages are stored for the chat.
    pub async fn count(&self, chat: &str) -> Result<i64, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM wa_history_message WHERE device_id = $1 AND chat = $2",
            )
            .bind(self.device_id)
            .bind(chat)
            .fetch_one(pool)
            .await
        })
    }
}
