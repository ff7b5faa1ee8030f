//! The inbox: every decrypted WhatsApp message is written here before whatsapp-rust
//! acknowledges it to WhatsApp (its inbound durability hook), and the bridge bridges from
//! here. A crash before the write means WhatsApp redelivers; a redelivery after it lands
//! on the same row.

use std::sync::Arc;

use async_trait::async_trait;
use wacore::types::events::InboundMessage;
use wacore::types::message::MessageInfo;
use whatsapp_rust::InboundDurabilityHook;
use whatsapp_rust::client::Client;
use whatsapp_rust::waproto::buffa::Message as _;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::db::{Db, with_pool};

/// One message as the inbox keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct InboxEntry {
    pub seq: i64,
    pub chat: String,
    pub sender: String,
    /// The sender's other address (PN for a LID sender, LID for a PN one), or empty.
    pub sender_alt: String,
    pub message_id: String,
    pub sent_at_ms: i64,
    pub push_name: String,
    pub from_me: bool,
    pub payload: Vec<u8>,
    /// Only the place of a message that could not be decrypted (yet); no payload.
    pub undecryptable: bool,
    /// The verified name of a business sender, or empty.
    pub business_name: String,
}

impl InboxEntry {
    /// The message itself, decoded again from the stored protobuf.
    pub fn message(&self) -> Result<wa::Message, String> {
        wa::Message::decode_from_slice(&self.payload).map_err(|err| err.to_string())
    }
}

/// The columns of an inbox row that come from the message's envelope.
struct RowOf<'a> {
    chat: String,
    sender: String,
    /// The sender's other address, or empty.
    sender_alt: String,
    message_id: String,
    sent_at_ms: i64,
    push_name: &'a str,
    from_me: bool,
    /// The sender's verified business name, or empty.
    business_name: String,
}

impl<'a> RowOf<'a> {
    fn new(info: &'a MessageInfo) -> Self {
        Self {
            chat: info.source.chat.to_string(),
            sender: info.source.sender.to_string(),
            sender_alt: info
                .source
                .sender_alt
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default(),
            message_id: info.id.to_string(),
            sent_at_ms: info.timestamp.timestamp_millis(),
            push_name: &info.push_name,
            from_me: info.source.is_from_me,
            business_name: info
                .verified_name
                .as_ref()
                .and_then(|verified| verified.name.clone())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Inbox {
    db: Db,
    device_id: i32,
    /// The library commits chats in parallel; one commit at a time keeps `seq` (the next
    /// number after the largest) free of races, so no commit fails and arrival order holds.
    commits: Arc<tokio::sync::Mutex<()>>,
}

impl Inbox {
    pub fn new(db: Db, device_id: i32) -> Self {
        Self {
            db,
            device_id,
            commits: Arc::default(),
        }
    }

    /// Messages stored and not bridged yet, over every device.
    pub async fn waiting_everywhere(db: &Db) -> Result<i64, sqlx::Error> {
        with_pool!(db, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM wa_inbox WHERE NOT bridged")
                .fetch_one(pool)
                .await
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn device_id(&self) -> i32 {
        self.device_id
    }

    /// Writes the batch in one transaction; returns how many messages were new.
    pub async fn commit(&self, batch: &[InboundMessage]) -> Result<u64, sqlx::Error> {
        let _one_at_a_time = self.commits.lock().await;
        with_pool!(&self.db, |pool| {
            let mut tx = pool.begin().await?;
            let mut added = 0;
            for item in batch {
                let row = RowOf::new(&item.info);
                added += sqlx::query(
                    "INSERT INTO wa_inbox (device_id, seq, chat, sender, sender_alt, message_id, sent_at_ms, push_name, from_me, payload, business_name) \
                     VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM wa_inbox WHERE device_id = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                     ON CONFLICT (device_id, chat, sender, message_id) DO UPDATE SET \
                     seq = excluded.seq, payload = excluded.payload, push_name = excluded.push_name, \
                     sent_at_ms = excluded.sent_at_ms, business_name = excluded.business_name, \
                     undecryptable = FALSE, bridged = FALSE \
                     WHERE wa_inbox.undecryptable",
                )
                .bind(self.device_id)
                .bind(&row.chat)
                .bind(&row.sender)
                .bind(&row.sender_alt)
                .bind(&row.message_id)
                .bind(row.sent_at_ms)
                .bind(row.push_name)
                .bind(row.from_me)
                .bind(item.message.encode_to_vec())
                .bind(&row.business_name)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            }
            tx.commit().await?;
            Ok(added)
        })
    }

    /// Holds the place of a message that could not be decrypted, so the portal can say it
    /// is on its way; the decrypted copy, when it comes, takes the row over (`commit`).
    pub async fn hold_place(&self, info: &MessageInfo) -> Result<(), sqlx::Error> {
        let row = RowOf::new(info);
        let _one_at_a_time = self.commits.lock().await;
        with_pool!(&self.db, |pool| {
            sqlx::query(
                "INSERT INTO wa_inbox (device_id, seq, chat, sender, sender_alt, message_id, sent_at_ms, push_name, from_me, payload, business_name, undecryptable) \
                 VALUES ($1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM wa_inbox WHERE device_id = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10, TRUE) \
                 ON CONFLICT (device_id, chat, sender, message_id) DO NOTHING",
            )
            .bind(self.device_id)
            .bind(&row.chat)
            .bind(&row.sender)
            .bind(&row.sender_alt)
            .bind(&row.message_id)
            .bind(row.sent_at_ms)
            .bind(row.push_name)
            .bind(row.from_me)
            .bind(Vec::<u8>::new())
            .bind(&row.business_name)
            .execute(pool)
            .await
            .map(drop)
        })
    }

    /// Messages not bridged yet after `after_seq`, oldest first.
    pub async fn pending(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<InboxEntry>, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, InboxEntry>(
                "SELECT seq, chat, sender, sender_alt, message_id, sent_at_ms, push_name, from_me, payload, undecryptable, business_name FROM wa_inbox \
                 WHERE device_id = $1 AND NOT bridged AND seq > $2 ORDER BY seq LIMIT $3",
            )
            .bind(self.device_id)
            .bind(after_seq)
            .bind(limit)
            .fetch_all(pool)
            .await
        })
    }

    /// Every decrypted message of the chat the inbox holds (bridged or not), in
    /// arrival order.
    pub async fn of_chat(&self, chat: &str) -> Result<Vec<InboxEntry>, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as::<_, InboxEntry>(
                "SELECT seq, chat, sender, sender_alt, message_id, sent_at_ms, push_name, from_me, payload, undecryptable, business_name FROM wa_inbox \
                 WHERE device_id = $1 AND chat = $2 AND NOT undecryptable ORDER BY seq",
            )
            .bind(self.device_id)
            .bind(chat)
            .fetch_all(pool)
            .await
        })
    }

    /// How many messages wait to be bridged, per chat.
    pub async fn pending_per_chat(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query_as(
                "SELECT chat, COUNT(*) FROM wa_inbox WHERE device_id = $1 AND NOT bridged \
                 GROUP BY chat ORDER BY chat",
            )
            .bind(self.device_id)
            .fetch_all(pool)
            .await
        })
    }

    /// Leaves all but the newest `keep` waiting messages of the chat unbridged for good
    /// (they stay stored); returns how many.
    pub async fn pass_over_oldest(&self, chat: &str, keep: i64) -> Result<u64, sqlx::Error> {
        with_pool!(&self.db, |pool| {
            let cut: Option<i64> = sqlx::query_scalar(
                "SELECT seq FROM wa_inbox WHERE device_id = $1 AND chat = $2 AND NOT bridged \
                 ORDER BY seq DESC LIMIT 1 OFFSET $3",
            )
            .bind(self.device_id)
            .bind(chat)
            .bind(keep)
            .fetch_optional(pool)
            .await?;
            let Some(cut) = cut else {
                return Ok(0);
            };
            sqlx::query(
                "UPDATE wa_inbox SET bridged = TRUE WHERE device_id = $1 AND chat = $2 AND NOT bridged AND seq <= $3",
            )
            .bind(self.device_id)
            .bind(chat)
            .bind(cut)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })
    }

    pub async fn mark_bridged(&self, seq: i64) -> Result<(), sqlx::Error> {
        with_pool!(&self.db, |pool| {
            sqlx::query("UPDATE wa_inbox SET bridged = TRUE WHERE device_id = $1 AND seq = $2")
                .bind(self.device_id)
                .bind(seq)
                .execute(pool)
                .await
                .map(drop)
        })
    }
}

/// The durability hook: whatsapp-rust acks a batch only once `commit` returned.
#[derive(Debug, Clone)]
pub struct InboxHook(pub Inbox);

#[async_trait]
impl InboundDurabilityHook for InboxHook {
    async fn on_messages(
        &self,
        _client: Arc<Client>,
        batch: &[InboundMessage],
    ) -> anyhow::Result<()> {
        self.0.commit(batch).await?;
        Ok(())
    }
}
