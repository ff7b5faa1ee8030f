//! The history store on SQLite and Postgres: a payload is kept as it came and read into
//! chats and messages once (a message in two payloads lands once, an undecodable payload
//! is kept and counted), chats move stored → queued → done, messages come back newest
//! `n` oldest first, the storage limit trims the oldest; and the inbox's catch-up
//! helpers count what waits per chat and pass over the oldest.

mod common;

use bytes::Bytes;
use matrix_whatsapp::config::{DatabaseConfig, DatabaseType};
use matrix_whatsapp::db::{self, Db};
use matrix_whatsapp::whatsapp::history::{BackfillState, HistoryStore};
use matrix_whatsapp::whatsapp::inbox::Inbox;
use matrix_whatsapp::whatsapp::store::WaStore;
use wacore::types::events::LazyHistorySync;
use whatsapp_rust::waproto::buffa::{Message as _, MessageField};
use whatsapp_rust::waproto::whatsapp as wa;

const ALICE: &str = "15550002001@s.whatsapp.net";
const GROUP: &str = "120363000000000001@g.us";

fn message(id: &str, sender: Option<&str>, at_secs: u64) -> wa::HistorySyncMsg {
    wa::HistorySyncMsg {
        message: MessageField::some(wa::WebMessageInfo {
            key: MessageField::some(wa::MessageKey {
                remote_jid: None,
                from_me: Some(false),
                id: Some(id.into()),
                participant: sender.map(Into::into),
            }),
            message: MessageField::some(wa::Message {
                conversation: Some(format!("text of {id}")),
                ..Default::default()
            }),
            message_timestamp: Some(at_secs),
            ..Default::default()
        }),
        msg_order_id: None,
    }
}

fn payload(conversations: Vec<wa::Conversation>) -> LazyHistorySync {
    let sync = wa::HistorySync {
        sync_type: wa::history_sync::HistorySyncType::INITIAL_BOOTSTRAP,
        conversations,
        ..Default::default()
    };
    let size = sync.encode_to_vec().len();
    let compressed = fakewa::compress_payload(&sync).expect("compress");
    LazyHistorySync::new(Bytes::from(compressed), size, 0, Some(1), Some(100))
}

async fn checks(db: Db) {
    let device = WaStore::create_device(&db).await.expect("device");
    let history = HistoryStore::new(db.clone(), device);
    let first = payload(vec![
        wa::Conversation {
            id: ALICE.into(),
            unread_count: Some(3),
            messages: (1..=6)
                .map(|n| message(&format!("A{n}"), None, 1000 + n))
                .collect(),
            ..Default::default()
        },
        wa::Conversation {
            id: GROUP.into(),
            name: Some("Garden".into()),
            pinned: Some(5),
            messages: vec![message("G1", Some("15550002002@s.whatsapp.net"), 900)],
            ..Default::default()
        },
    ]);
    // The second payload repeats A6 and adds A7.
    let second = payload(vec![wa::Conversation {
        id: ALICE.into(),
        unread_count: Some(4),
        messages: vec![message("A6", None, 1006), message("A7", None, 1007)],
        ..Default::default()
    }]);
    let garbage = LazyHistorySync::new(Bytes::from_static(b"not zlib at all"), 64, 0, None, None);
    for kept in [&first, &garbage, &second] {
        history.keep(kept, 1).await.expect("keep");
    }
    let read = history.read_waiting("", 2).await.expect("read");
    assert_eq!((read.payloads, read.unreadable), (3, 1));
    assert_eq!(
        (read.chats, read.messages),
        (3, 9),
        "what the payloads held"
    );
    assert_eq!(
        history.read_waiting("", 3).await.expect("read").payloads,
        0,
        "a payload is read once"
    );
    assert_eq!(
        history.count(ALICE).await.expect("count"),
        7,
        "A6 landed once"
    );

    let chats = history
        .chats_in(BackfillState::Stored)
        .await
        .expect("chats");
    let order: Vec<&str> = chats.iter().map(|chat| chat.chat.as_str()).collect();
    assert_eq!(order, [ALICE, GROUP], "the most recent chat first");
    assert_eq!(chats[0].unread_count, 4, "the later payload's view wins");
    assert_eq!(chats[0].last_message_ms, 1_007_000);
    assert!(chats[1].pinned && chats[1].name == "Garden");

    let newest: Vec<String> = history
        .newest(ALICE, 3)
        .await
        .expect("newest")
        .into_iter()
        .map(|entry| entry.message_id)
        .collect();
    assert_eq!(newest, ["A5", "A6", "A7"], "the newest three, oldest first");
    assert_eq!(history.newest(ALICE, -1).await.expect("all").len(), 7);
    let group = history.newest(GROUP, 10).await.expect("group");
    assert_eq!(group[0].sender, "15550002002@s.whatsapp.net");
    assert_eq!(
        history
            .oldest(ALICE)
            .await
            .expect("oldest")
            .map(|entry| entry.message_id),
        Some("A1".into())
    );

    assert_eq!(
        history.state(ALICE).await.expect("state"),
        Some(BackfillState::Stored)
    );
    assert_eq!(
        history.state("nobody@s.whatsapp.net").await.expect("state"),
        None
    );
    history
        .set_state(ALICE, BackfillState::Queued)
        .await
        .expect("queue");
    assert_eq!(history.chosen_count().await.expect("chosen"), 1);
    history
        .set_state(ALICE, BackfillState::Done)
        .await
        .expect("done");
    assert_eq!(
        history
            .chats_in(BackfillState::Done)
            .await
            .expect("done")
            .len(),
        1
    );
    assert_eq!(history.chosen_count().await.expect("chosen"), 1);

    // The storage limit keeps each chat's newest.
    assert_eq!(history.trim(2).await.expect("trim"), 5);
    let kept: Vec<String> = history
        .newest(ALICE, -1)
        .await
        .expect("kept")
        .into_iter()
        .map(|entry| entry.message_id)
        .collect();
    assert_eq!(kept, ["A6", "A7"]);
    assert_eq!(history.count(GROUP).await.expect("count"), 1);

    // Another device's history is its own.
    let other = HistoryStore::new(
        db.clone(),
        WaStore::create_device(&db).await.expect("device"),
    );
    assert!(
        other
            .chats_in(BackfillState::Stored)
            .await
            .expect("chats")
            .is_empty()
    );

    inbox_catch_up(&db, device).await;
    WaStore::delete_device(&db, device).await.expect("delete");
    assert_eq!(
        history.count(ALICE).await.expect("count"),
        0,
        "gone with its device"
    );
}

async fn inbox_catch_up(db: &Db, device: i32) {
    use std::sync::Arc;
    use wacore::chrono::{TimeZone, Utc};
    use wacore::types::events::InboundMessage;
    use wacore::types::message::{MessageInfo, MessageSource};
    use whatsapp_rust::Jid;

    let inbox = Inbox::new(db.clone(), device);
    let inbound = |chat: &str, id: &str| {
        let info = MessageInfo {
            source: MessageSource {
                chat: Jid::pn(chat),
                sender: Jid::pn(chat),
                ..MessageSource::default()
            },
            id: id.into(),
            timestamp: Utc.timestamp_opt(100, 0).single().expect("time"),
            ..MessageInfo::default()
        };
        InboundMessage::builder()
            .message(Arc::new(wa::Message::default()))
            .info(Arc::new(info))
            .build()
    };
    let batch: Vec<InboundMessage> = (1..=5)
        .map(|n| inbound("111", &format!("X{n}")))
        .chain([inbound("222", "Y1")])
        .collect();
    inbox.commit(&batch).await.expect("commit");
    assert_eq!(
        inbox.pending_per_chat().await.expect("count"),
        [
            ("111@s.whatsapp.net".to_owned(), 5),
            ("222@s.whatsapp.net".to_owned(), 1)
        ]
    );
    assert_eq!(
        inbox
            .pass_over_oldest("111@s.whatsapp.net", 2)
            .await
            .expect("pass"),
        3
    );
    assert_eq!(
        inbox
            .pass_over_oldest("222@s.whatsapp.net", 2)
            .await
            .expect("pass"),
        0
    );
    let left: Vec<String> = inbox
        .pending(0, 100)
        .await
        .expect("pending")
        .into_iter()
        .map(|entry| entry.message_id)
        .collect();
    assert_eq!(left, ["X4", "X5", "Y1"], "the newest two of 111 wait");
    assert_eq!(
        inbox
            .of_chat("111@s.whatsapp.net")
            .await
            .expect("all")
            .len(),
        5,
        "passed over, not gone"
    );
}

#[tokio::test]
async fn history_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = DatabaseConfig {
        kind: DatabaseType::Sqlite,
        uri: "history.db".into(),
        max_connections: 4,
    };
    checks(db::connect(&config, dir.path()).await.expect("sqlite")).await;
}

#[tokio::test]
async fn history_on_postgres() {
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
