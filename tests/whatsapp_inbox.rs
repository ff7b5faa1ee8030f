//! The inbox behind the durability hook, on SQLite and Postgres: redeliveries land once,
//! arrival order is kept, and what is stored decodes back into the same message.

mod common;

use std::sync::Arc;

use matrix_whatsapp::config::{DatabaseConfig, DatabaseType};
use matrix_whatsapp::db::{self, Db};
use matrix_whatsapp::whatsapp::inbox::Inbox;
use matrix_whatsapp::whatsapp::store::WaStore;
use wacore::chrono::{TimeZone, Utc};
use wacore::types::events::InboundMessage;
use wacore::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::Jid;
use whatsapp_rust::waproto::whatsapp as wa;

fn inbound(chat: &str, sender: &str, id: &str, text: &str, at_secs: i64) -> InboundMessage {
    let info = MessageInfo {
        source: MessageSource {
            chat: Jid::pn(chat),
            sender: Jid::pn(sender),
            ..MessageSource::default()
        },
        id: id.into(),
        push_name: format!("{sender}'s name"),
        timestamp: Utc.timestamp_opt(at_secs, 0).single().expect("time"),
        ..MessageInfo::default()
    };
    let message = wa::Message {
        conversation: Some(text.into()),
        ..wa::Message::default()
    };
    InboundMessage::builder()
        .message(Arc::new(message))
        .info(Arc::new(info))
        .build()
}

async fn checks(db: Db) {
    let device = WaStore::create_device(&db).await.expect("device");
    let inbox = Inbox::new(db.clone(), device);
    let first = [
        inbound("111", "111", "A1", "one", 100),
        inbound("222", "222", "B1", "two", 101),
        inbound("111", "111", "A2", "three", 102),
    ];
    assert_eq!(inbox.commit(&first).await.expect("commit"), 3);

    // WhatsApp redelivers what it did not see acknowledged, plus something new.
    let again = [
        inbound("222", "222", "B1", "two", 101),
        inbound("111", "111", "A3", "four", 103),
    ];
    assert_eq!(
        inbox.commit(&again).await.expect("commit"),
        1,
        "a redelivery was stored twice"
    );

    let pending = inbox.pending(0, 100).await.expect("pending");
    let texts: Vec<String> = pending
        .iter()
        .map(|entry| {
            entry
                .message()
                .expect("decodes")
                .conversation
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        texts,
        ["one", "two", "three", "four"],
        "arrival order was not kept"
    );
    assert_eq!(pending[0].chat, "111@s.whatsapp.net");
    assert_eq!(pending[0].sent_at_ms, 100_000);
    assert_eq!(pending[0].push_name, "111's name");

    inbox.mark_bridged(pending[0].seq).await.expect("mark");
    inbox.mark_bridged(pending[1].seq).await.expect("mark");
    let rest = inbox.pending(0, 100).await.expect("pending");
    assert_eq!(
        rest.iter()
            .map(|entry| entry.message_id.as_str())
            .collect::<Vec<_>>(),
        ["A2", "A3"]
    );
    assert_eq!(
        inbox.pending(0, 1).await.expect("pending").len(),
        1,
        "the limit is honoured"
    );

    // Another device's inbox is its own; deleting a device takes its inbox along.
    let other = Inbox::new(
        db.clone(),
        WaStore::create_device(&db).await.expect("device"),
    );
    assert!(other.pending(0, 100).await.expect("pending").is_empty());
    WaStore::delete_device(&db, device).await.expect("delete");
    assert!(inbox.pending(0, 100).await.expect("pending").is_empty());
}

#[tokio::test]
async fn inbox_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = DatabaseConfig {
        kind: DatabaseType::Sqlite,
        uri: "inbox.db".into(),
        max_connections: 4,
    };
    checks(db::connect(&config, dir.path()).await.expect("sqlite")).await;
}

#[tokio::test]
async fn inbox_on_postgres() {
    let config = DatabaseConfig {
        kind: DatabaseType::Postgres,
        uri: common::fresh_postgres_database().await,
        max_connections: 4,
    };
    checks(
        db::connect(&config, std::path::Path::new("."))
            .await
            .expect("postgres"),
    )
    .await;
}
