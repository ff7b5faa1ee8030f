//! The database layer on both backends: SQLite (a file) and a real Postgres server.

mod common;

use std::os::unix::fs::PermissionsExt;

use matrix_whatsapp::config::{DatabaseConfig, DatabaseType};
use matrix_whatsapp::db::{self, Db, DbError};
use ruma::{RoomId, UserId};

async fn sqlite(dir: &std::path::Path) -> Db {
    let config = DatabaseConfig {
        kind: DatabaseType::Sqlite,
        uri: "bridge.db".into(),
        max_connections: 4,
    };
    db::connect(&config, dir).await.expect("sqlite opens")
}

async fn postgres() -> (Db, DatabaseConfig) {
    let config = DatabaseConfig {
        kind: DatabaseType::Postgres,
        uri: common::fresh_postgres_database().await,
        max_connections: 4,
    };
    let db = db::connect(&config, std::path::Path::new("."))
        .await
        .expect("postgres opens");
    (db, config)
}

async fn transactions_are_remembered(db: &Db) {
    assert!(!db.txn_handled("t1").await.expect("query"));
    db.record_txn("t1", 1_000).await.expect("record");
    db.record_txn("t1", 2_000)
        .await
        .expect("recording twice is fine");
    assert!(db.txn_handled("t1").await.expect("query"));
    assert!(!db.matrix_event_handled("$e1").await.expect("query"));
    db.record_matrix_event("$e1", 1_000).await.expect("record");
    db.record_matrix_event("$e1", 5_000)
        .await
        .expect("recording twice is fine");
    assert!(db.matrix_event_handled("$e1").await.expect("query"));
    db.record_txn("t2", 9_000).await.expect("record");
    // Only records older than the bound go.
    assert_eq!(db.prune_handled(2_000).await.expect("prune"), 2);
    assert!(!db.txn_handled("t1").await.expect("query"));
    assert!(db.txn_handled("t2").await.expect("query"));
}

async fn management_rooms_are_kept_and_replaced(db: &Db) {
    let alice = UserId::parse("@alice:example.com").expect("user");
    let first = RoomId::parse("!first").expect("room");
    let second = RoomId::parse("!second").expect("room");
    assert_eq!(db.management_room(&alice).await.expect("query"), None);
    db.set_management_room(&alice, &first, 1)
        .await
        .expect("set");
    assert_eq!(
        db.management_room(&alice).await.expect("query"),
        Some(first.clone())
    );
    db.set_management_room(&alice, &second, 2)
        .await
        .expect("replace");
    assert_eq!(
        db.management_room(&alice).await.expect("query"),
        Some(second.clone())
    );
    db.forget_management_room(&second).await.expect("forget");
    assert_eq!(db.management_room(&alice).await.expect("query"), None);
}

async fn mark_schema_from_the_future(db: &Db) {
    match db {
        Db::Sqlite(pool) => {
            sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999, 'future', TRUE, X'00', 0)")
                .execute(pool)
                .await
                .expect("insert");
        }
        Db::Postgres(pool) => {
            sqlx::query("INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) VALUES (99999, 'future', TRUE, '\\x00', 0)")
                .execute(pool)
                .await
                .expect("insert");
        }
    }
}

fn assert_refused_as_too_new(result: Result<Db, DbError>) {
    match result {
        Err(err @ DbError::SchemaTooNew { found: 99999, .. }) => {
            assert!(
                err.to_string()
                    .contains("newer than this matrix-whatsapp knows"),
                "{err}"
            );
        }
        Err(other) => panic!("expected SchemaTooNew, got {other}"),
        Ok(_) => panic!("a database from a newer release was opened"),
    }
}

async fn ghosts_are_found_by_name_or_number(db: &Db) {
    db.set_ghost_display_name("15550002001", "Alice 100% Liddell", 1)
        .await
        .expect("ghost");
    db.set_ghost_display_name("15550002002", "Bob", 1)
        .await
        .expect("ghost");
    let names =
        |found: Vec<(String, String)>| found.into_iter().map(|(_, name)| name).collect::<Vec<_>>();
    assert_eq!(
        names(db.search_ghosts("LIDDELL", 10).await.expect("search")),
        ["Alice 100% Liddell"]
    );
    assert_eq!(
        names(db.search_ghosts("100%", 10).await.expect("search")),
        ["Alice 100% Liddell"],
        "% is matched as itself"
    );
    assert_eq!(
        names(db.search_ghosts("1555000200", 10).await.expect("search")),
        ["Alice 100% Liddell", "Bob"]
    );
    assert!(
        db.search_ghosts("_", 10).await.expect("search").is_empty(),
        "_ is itself"
    );
}

/// A LID learned as a phone number moves the LID's direct chat (portal and message map)
/// and its messages' sender to the number, unless the number already has a portal.
async fn a_lid_moves_to_its_phone_number(db: &Db) {
    use matrix_whatsapp::db::message_map::MappedMessage;
    use matrix_whatsapp::db::portals::PortalRow;
    use matrix_whatsapp::whatsapp::store::WaStore;

    let device = WaStore::create_device(db).await.expect("device");
    let (lid, phone) = ("987@lid", "15550002005@s.whatsapp.net");
    assert_eq!(db.phone_for_lid("987").await.expect("query"), None);
    assert!(
        db.learn_lid_phone("987", "15550002005", 1)
            .await
            .expect("learn")
    );
    assert!(
        !db.learn_lid_phone("987", "15550002005", 2)
            .await
            .expect("learn"),
        "the same pair again is no news"
    );
    assert_eq!(
        db.phone_for_lid("987").await.expect("query").as_deref(),
        Some("15550002005")
    );
    let room = RoomId::parse("!direct:localhost").expect("room");
    db.add_portal(
        &PortalRow {
            device_id: device,
            chat_jid: lid.into(),
            room_id: room.clone(),
            is_group: false,
        },
        1,
    )
    .await
    .expect("portal");
    let message = MappedMessage {
        device_id: device,
        chat_jid: lid.into(),
        wa_message_id: "M1".into(),
        part: 0,
        wa_sender: lid.into(),
        event_id: ruma::EventId::parse("$m1").expect("event"),
        sent_at_ms: 1,
    };
    db.map_message(&message, &room).await.expect("map");

    let moved = db.move_lid_to_phone(lid, phone).await.expect("move");
    assert_eq!(moved, [room.to_string()]);
    let portal = db.portal_for_chat(device, phone).await.expect("query");
    assert_eq!(portal.map(|portal| portal.room_id), Some(room.clone()));
    assert!(
        db.portal_for_chat(device, lid)
            .await
            .expect("query")
            .is_none()
    );
    let parts = db
        .mapped_by_wa_id(device, phone, "M1")
        .await
        .expect("query");
    assert_eq!(parts.len(), 1);
    assert_eq!(parts[0].wa_sender, phone);
    assert!(
        db.move_lid_to_phone(lid, phone)
            .await
            .expect("again")
            .is_empty(),
        "moving again finds nothing left to move"
    );
}

#[tokio::test]
async fn sqlite_repositories() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(dir.path()).await;
    transactions_are_remembered(&db).await;
    management_rooms_are_kept_and_replaced(&db).await;
    ghosts_are_found_by_name_or_number(&db).await;
    a_lid_moves_to_its_phone_number(&db).await;
}

#[tokio::test]
async fn postgres_repositories() {
    let (db, _) = postgres().await;
    transactions_are_remembered(&db).await;
    management_rooms_are_kept_and_replaced(&db).await;
    ghosts_are_found_by_name_or_number(&db).await;
    a_lid_moves_to_its_phone_number(&db).await;
}

#[tokio::test]
async fn sqlite_file_is_private_and_in_wal_mode_and_survives_reopening() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(dir.path()).await;
    db.record_txn("kept", 1).await.expect("record");
    if let Db::Sqlite(pool) = &db {
        let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .expect("pragma");
        assert_eq!(mode, "wal");
        let keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(pool)
            .await
            .expect("pragma");
        assert_eq!(keys, 1);
    }
    db.close().await;
    let mode = std::fs::metadata(dir.path().join("bridge.db"))
        .expect("file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    // Migrations run again on an existing database without harm, and the data stays.
    let db = sqlite(dir.path()).await;
    assert!(db.txn_handled("kept").await.expect("query"));
}

#[tokio::test]
async fn sqlite_schema_newer_than_the_binary_is_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite(dir.path()).await;
    mark_schema_from_the_future(&db).await;
    db.close().await;
    let config = DatabaseConfig {
        kind: DatabaseType::Sqlite,
        uri: "bridge.db".into(),
        max_connections: 1,
    };
    assert_refused_as_too_new(db::connect(&config, dir.path()).await);
}

#[tokio::test]
async fn postgres_schema_newer_than_the_binary_is_refused() {
    let (db, config) = postgres().await;
    mark_schema_from_the_future(&db).await;
    db.close().await;
    assert_refused_as_too_new(db::connect(&config, std::path::Path::new(".")).await);
}

#[tokio::test]
async fn unreachable_postgres_is_a_clear_error_without_the_password() {
    let config = DatabaseConfig {
        kind: DatabaseType::Postgres,
        uri: format!(
            "postgres://bridge:hunter2@127.0.0.1:{}/nothing",
            common::free_port()
        ),
        max_connections: 1,
    };
    let err = db::connect(&config, std::path::Path::new("."))
        .await
        .expect_err("no server there");
    let text = err.to_string();
    assert!(
        text.contains("cannot connect to the Postgres database"),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}
