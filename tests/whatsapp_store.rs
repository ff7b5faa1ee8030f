//! whatsapp-rust's storage on our database: the same checks on SQLite and on a real
//! Postgres, covering the semantics the library relies on (merge rules, atomic takes,
//! no resurrection of consumed keys, per-device isolation, cascade on delete).

mod common;

use std::sync::Arc;

use bytes::Bytes;
use matrix_whatsapp::clock::SystemClock;
use matrix_whatsapp::config::{DatabaseConfig, DatabaseType};
use matrix_whatsapp::db::{self, Db};
use matrix_whatsapp::whatsapp::store::WaStore;
use wacore::appstate::hash::HashState;
use wacore::appstate::processor::AppStateMutationMAC;
use wacore::store::Device;
use wacore::store::traits::*;

async fn sqlite_db(dir: &std::path::Path) -> Db {
    let config = DatabaseConfig {
        kind: DatabaseType::Sqlite,
        uri: "store.db".into(),
        max_connections: 4,
    };
    db::connect(&config, dir).await.expect("sqlite")
}

async fn postgres_db() -> Db {
    let config = DatabaseConfig {
        kind: DatabaseType::Postgres,
        uri: common::fresh_postgres_database().await,
        max_connections: 4,
    };
    db::connect(&config, std::path::Path::new("."))
        .await
        .expect("postgres")
}

async fn new_store(db: &Db) -> WaStore {
    let id = WaStore::create_device(db).await.expect("device row");
    WaStore::open(db.clone(), id, Arc::new(SystemClock))
}

async fn all_checks(db: Db) {
    device_lifecycle(&db).await;
    let store = new_store(&db).await;
    signal_state(&store).await;
    prekeys(&store).await;
    app_state(&store).await;
    protocol_tables(&store).await;
    tc_tokens(&store).await;
    retries_and_pending(&store).await;
    msg_secrets(&store).await;
    isolation_and_cascade(&db).await;
}

async fn device_lifecycle(db: &Db) {
    let store = new_store(db).await;
    assert!(store.exists().await.expect("exists"));
    assert!(
        store.load().await.expect("load").is_none(),
        "a new device has no data yet"
    );
    assert_eq!(
        store.create().await.expect("create"),
        store.device_id(),
        "create keeps the device's ID"
    );

    let mut device = Device::new();
    device.push_name = "Alice's phone".into();
    device.registration_id = 4242;
    device.next_pre_key_id = 813;
    store.save(&device).await.expect("save");
    let loaded = store.load().await.expect("load").expect("saved device");
    assert_eq!(loaded.push_name, "Alice's phone");
    assert_eq!(loaded.registration_id, 4242);
    assert_eq!(loaded.next_pre_key_id, 813);
    assert_eq!(
        loaded.identity_key.public_key.public_key_bytes(),
        device.identity_key.public_key.public_key_bytes()
    );
    assert_eq!(loaded.adv_secret_key, device.adv_secret_key);
}

async fn signal_state(store: &WaStore) {
    let address = "15551234567:3@s.whatsapp.net";
    assert!(store.load_identity(address).await.expect("load").is_none());
    store.put_identity(address, [7; 32]).await.expect("put");
    store
        .put_identity(address, [8; 32])
        .await
        .expect("overwrite");
    assert_eq!(
        store.load_identity(address).await.expect("load"),
        Some([8; 32])
    );
    store
        .put_identities_batch(&[(Arc::from("1@lid"), [1; 32]), (Arc::from("2@lid"), [2; 32])])
        .await
        .expect("batch");
    assert_eq!(
        store.load_identity("2@lid").await.expect("load"),
        Some([2; 32])
    );
    store.delete_identity("2@lid").await.expect("delete");
    assert!(store.load_identity("2@lid").await.expect("load").is_none());

    store
        .put_session("15551234567@s.whatsapp.net", b"session-a")
        .await
        .expect("put");
    store
        .put_sessions_batch(&[(Arc::from("999@lid"), Bytes::from_static(b"session-b"))])
        .await
        .expect("batch");
    assert_eq!(
        store.get_session("999@lid").await.expect("get").as_deref(),
        Some(&b"session-b"[..])
    );
    assert!(
        store
            .has_session("15551234567@s.whatsapp.net")
            .await
            .expect("has")
    );
    assert!(
        store
            .has_signal_state_for_user("15551234567")
            .await
            .expect("state")
    );
    assert!(store.has_signal_state_for_user("999").await.expect("state"));
    // A prefix of another user's number is not that user.
    assert!(
        !store
            .has_signal_state_for_user("1555123456")
            .await
            .expect("state")
    );
    store.delete_session("999@lid").await.expect("delete");
    assert!(!store.has_session("999@lid").await.expect("has"));

    store
        .put_sender_key("group@g.us::sender", b"sk")
        .await
        .expect("put");
    assert_eq!(
        store
            .get_sender_key("group@g.us::sender")
            .await
            .expect("get"),
        Some(b"sk".to_vec())
    );
    store
        .delete_sender_key("group@g.us::sender")
        .await
        .expect("delete");
    assert!(
        store
            .get_sender_key("group@g.us::sender")
            .await
            .expect("get")
            .is_none()
    );
}

async fn prekeys(store: &WaStore) {
    let keys: Vec<(u32, Bytes)> = (1..=5)
        .map(|id| (id, Bytes::from(vec![id as u8; 4])))
        .collect();
    store
        .store_prekeys_batch(&keys, false)
        .await
        .expect("store");
    assert_eq!(store.get_max_prekey_id().await.expect("max"), 5);
    assert_eq!(
        store.load_prekey(3).await.expect("load").as_deref(),
        Some(&[3u8; 4][..])
    );
    let loaded = store.load_prekeys_batch(&[1, 2, 99]).await.expect("batch");
    assert_eq!(
        loaded.iter().map(|(id, _)| *id).collect::<Vec<_>>(),
        vec![1, 2]
    );
    // A key consumed between upload and acknowledgement stays consumed.
    store.remove_prekey(2).await.expect("remove");
    store.mark_prekeys_uploaded(&[1, 2]).await.expect("mark");
    assert!(
        store.load_prekey(2).await.expect("load").is_none(),
        "mark_prekeys_uploaded resurrected a key"
    );
    assert!(store.load_prekey(1).await.expect("load").is_some());

    store.store_signed_prekey(9, b"nine").await.expect("signed");
    store.store_signed_prekey(4, b"four").await.expect("signed");
    assert_eq!(
        store.load_all_signed_prekeys().await.expect("all"),
        vec![(4, b"four".to_vec()), (9, b"nine".to_vec())]
    );
    store.remove_signed_prekey(4).await.expect("remove");
    assert!(store.load_signed_prekey(4).await.expect("load").is_none());
    assert_eq!(
        store.load_signed_prekey(9).await.expect("load"),
        Some(b"nine".to_vec())
    );
}

async fn app_state(store: &WaStore) {
    assert!(
        store
            .get_latest_sync_key_id()
            .await
            .expect("latest")
            .is_none()
    );
    let key = |n: u8| AppStateSyncKey {
        key_data: vec![n; 32],
        fingerprint: vec![n],
        timestamp: i64::from(n),
    };
    store.set_sync_key(b"k1", key(1)).await.expect("set");
    store.set_sync_key(b"k2", key(2)).await.expect("set");
    assert_eq!(
        store.get_latest_sync_key_id().await.expect("latest"),
        Some(b"k2".to_vec())
    );
    store.set_sync_key(b"k1", key(3)).await.expect("set again");
    assert_eq!(
        store.get_latest_sync_key_id().await.expect("latest"),
        Some(b"k1".to_vec())
    );
    assert_eq!(
        store
            .get_sync_key(b"k1")
            .await
            .expect("get")
            .expect("key")
            .timestamp,
        3
    );

    let empty = store.get_version("regular").await.expect("version");
    assert_eq!(empty.version, 0);
    let mut state = HashState {
        version: 17,
        hash: [5; 128],
        ..HashState::default()
    };
    state.index_value_map.insert("idx".into(), vec![1, 2, 3]);
    store.set_version("regular", state).await.expect("set");
    let loaded = store.get_version("regular").await.expect("version");
    assert_eq!(loaded.version, 17);
    assert_eq!(loaded.hash, [5; 128]);
    assert_eq!(loaded.index_value_map.get("idx"), Some(&vec![1, 2, 3]));

    let mac = |index: u8, value: u8| AppStateMutationMAC {
        index_mac: vec![index; 32],
        value_mac: vec![value; 32],
    };
    store
        .put_mutation_macs("regular", 1, &[mac(1, 10), mac(2, 20)])
        .await
        .expect("put");
    store
        .put_mutation_macs("regular", 2, &[mac(1, 11)])
        .await
        .expect("update");
    assert_eq!(
        store
            .get_mutation_mac("regular", &[1; 32])
            .await
            .expect("get"),
        Some(vec![11; 32])
    );
    let many = store
        .get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]])
        .await
        .expect("many");
    assert_eq!(many.len(), 2);
    store
        .delete_mutation_macs("regular", &[vec![1; 32]])
        .await
        .expect("delete");
    assert!(
        store
            .get_mutation_mac("regular", &[1; 32])
            .await
            .expect("get")
            .is_none()
    );
    store.clear_mutation_macs("regular").await.expect("clear");
    assert!(
        store
            .get_mutation_mac("regular", &[2; 32])
            .await
            .expect("get")
            .is_none()
    );
}

async fn protocol_tables(store: &WaStore) {
    let group = "120363@g.us";
    store
        .set_sender_key_status(
            group,
            &[("1:1@s.whatsapp.net", true), ("2:0@s.whatsapp.net", false)],
        )
        .await
        .expect("set");
    store
        .set_sender_key_status("other@g.us", &[("1:1@s.whatsapp.net", true)])
        .await
        .expect("set");
    store
        .set_sender_key_status(group, &[("2:0@s.whatsapp.net", true)])
        .await
        .expect("update");
    assert_eq!(
        store.get_sender_key_devices(group).await.expect("get"),
        vec![
            ("1:1@s.whatsapp.net".to_owned(), true),
            ("2:0@s.whatsapp.net".to_owned(), true)
        ]
    );
    store
        .delete_sender_key_device_rows(&["1:1@s.whatsapp.net"])
        .await
        .expect("delete rows");
    assert_eq!(
        store
            .get_sender_key_devices(group)
            .await
            .expect("get")
            .len(),
        1
    );
    assert!(
        store
            .get_sender_key_devices("other@g.us")
            .await
            .expect("get")
            .is_empty(),
        "rows go from every group"
    );
    store.clear_sender_key_devices(group).await.expect("clear");
    assert!(
        store
            .get_sender_key_devices(group)
            .await
            .expect("get")
            .is_empty()
    );
    store
        .set_sender_key_status(group, &[("3:0@s.whatsapp.net", true)])
        .await
        .expect("set");
    store
        .clear_all_sender_key_devices()
        .await
        .expect("clear all");
    assert!(
        store
            .get_sender_key_devices(group)
            .await
            .expect("get")
            .is_empty()
    );

    let mapping = |lid: &str, phone: &str, at: i64| LidPnMappingEntry {
        lid: lid.into(),
        phone_number: phone.into(),
        created_at: at,
        updated_at: at,
        learning_source: "usync".into(),
    };
    store
        .put_lid_mapping(&mapping("100", "15550001", 1))
        .await
        .expect("put");
    store
        .put_lid_mappings(&[mapping("200", "15550002", 2), mapping("300", "15550001", 3)])
        .await
        .expect("batch");
    assert_eq!(
        store
            .get_lid_mapping("200")
            .await
            .expect("get")
            .expect("mapping")
            .phone_number,
        "15550002"
    );
    assert_eq!(
        store
            .get_pn_mapping("15550001")
            .await
            .expect("get")
            .expect("mapping")
            .lid,
        "300",
        "the newest LID wins"
    );
    assert_eq!(store.get_all_lid_mappings().await.expect("all").len(), 3);

    store
        .save_base_key("a@lid", "m1", b"base")
        .await
        .expect("save");
    assert!(
        store
            .has_same_base_key("a@lid", "m1", b"base")
            .await
            .expect("same")
    );
    assert!(
        !store
            .has_same_base_key("a@lid", "m1", b"other")
            .await
            .expect("same")
    );
    store.delete_base_key("a@lid", "m1").await.expect("delete");
    assert!(
        !store
            .has_same_base_key("a@lid", "m1", b"base")
            .await
            .expect("same")
    );

    let record = DeviceListRecord {
        user: "15550001".into(),
        devices: vec![DeviceInfo::new(0, None), DeviceInfo::new(3, Some(2))],
        timestamp: 77,
        phash: Some("2:abc".into()),
        raw_id: Some(9),
    };
    store.update_device_list(record).await.expect("update");
    let loaded = store
        .get_devices("15550001")
        .await
        .expect("get")
        .expect("record");
    assert_eq!(loaded.devices.len(), 2);
    assert_eq!(loaded.raw_id, Some(9));
    store.delete_devices("15550001").await.expect("delete");
    assert!(store.get_devices("15550001").await.expect("get").is_none());

    store.put_group_metadata(group, b"meta").await.expect("put");
    assert_eq!(
        store.get_group_metadata(group).await.expect("get"),
        Some(b"meta".to_vec())
    );
    store.delete_group_metadata(group).await.expect("delete");
    assert!(
        store
            .get_group_metadata(group)
            .await
            .expect("get")
            .is_none()
    );
}

async fn tc_tokens(store: &WaStore) {
    // The sender bucket creates a placeholder and only moves forward.
    store
        .touch_tc_token_sender_timestamp("c@lid", 100)
        .await
        .expect("touch");
    store
        .touch_tc_token_sender_timestamp("c@lid", 50)
        .await
        .expect("touch older");
    let entry = store
        .get_tc_token("c@lid")
        .await
        .expect("get")
        .expect("placeholder");
    assert!(entry.token.is_empty());
    assert_eq!(entry.sender_timestamp, Some(100));
    // A real token replaces the placeholder whatever its time, keeping the sender bucket.
    store
        .store_received_tc_token("c@lid", b"tok", 10)
        .await
        .expect("store");
    let entry = store
        .get_tc_token("c@lid")
        .await
        .expect("get")
        .expect("token");
    assert_eq!(
        (
            entry.token.as_slice(),
            entry.token_timestamp,
            entry.sender_timestamp
        ),
        (&b"tok"[..], 10, Some(100))
    );
    // An older token does not clobber a newer one; a newer one does.
    store
        .store_received_tc_token("c@lid", b"old", 5)
        .await
        .expect("store");
    assert_eq!(
        store
            .get_tc_token("c@lid")
            .await
            .expect("get")
            .expect("token")
            .token,
        b"tok"
    );
    store
        .store_received_tc_token("c@lid", b"new", 20)
        .await
        .expect("store");
    assert_eq!(
        store
            .get_tc_token("c@lid")
            .await
            .expect("get")
            .expect("token")
            .token,
        b"new"
    );

    let put = |token: &[u8], token_timestamp, sender_timestamp| TcTokenEntry {
        token: token.to_vec(),
        token_timestamp,
        sender_timestamp,
    };
    store
        .put_tc_token("stale@lid", &put(b"x", 1, Some(1)))
        .await
        .expect("put");
    store
        .put_tc_token("sender-live@lid", &put(b"x", 1, Some(500)))
        .await
        .expect("put");
    store
        .put_tc_token("token-live@lid", &put(b"x", 500, None))
        .await
        .expect("put");
    assert_eq!(store.get_all_tc_token_jids().await.expect("jids").len(), 4);
    // Only a row with both windows stale goes; c@lid's sender bucket (100) is still live.
    assert_eq!(
        store
            .delete_expired_tc_tokens(100, 100)
            .await
            .expect("expire"),
        1
    );
    assert_eq!(
        store.get_all_tc_token_jids().await.expect("jids"),
        vec!["c@lid", "sender-live@lid", "token-live@lid"]
    );
}

async fn retries_and_pending(store: &WaStore) {
    store
        .store_sent_message("chat@s.whatsapp.net", "M1", b"payload")
        .await
        .expect("store");
    assert_eq!(
        store
            .take_sent_message("chat@s.whatsapp.net", "M1")
            .await
            .expect("take"),
        Some(b"payload".to_vec())
    );
    assert!(
        store
            .take_sent_message("chat@s.whatsapp.net", "M1")
            .await
            .expect("take")
            .is_none(),
        "taken twice"
    );
    store
        .store_sent_message("chat@s.whatsapp.net", "M2", b"p")
        .await
        .expect("store");
    assert_eq!(
        store
            .delete_expired_sent_messages(i64::MAX)
            .await
            .expect("expire"),
        1
    );

    store
        .store_pending_inbound("chat", "sender", "id1", b"m1")
        .await
        .expect("store");
    store
        .store_pending_inbound_batch(&[PendingInboundRow {
            chat: "chat",
            sender: "sender",
            id: "id2",
            message: b"m2",
        }])
        .await
        .expect("batch");
    assert_eq!(
        store
            .get_pending_inbound("chat", "sender", "id2")
            .await
            .expect("get"),
        Some(b"m2".to_vec())
    );
    store
        .delete_pending_inbound("chat", "sender", "id1")
        .await
        .expect("delete");
    assert!(
        store
            .get_pending_inbound("chat", "sender", "id1")
            .await
            .expect("get")
            .is_none()
    );
    assert_eq!(
        store
            .delete_expired_pending_inbound(0)
            .await
            .expect("expire"),
        0,
        "nothing is older than the epoch"
    );
    store
        .delete_pending_inbound_batch(&[PendingInboundKey {
            chat: "chat",
            sender: "sender",
            id: "id2",
        }])
        .await
        .expect("delete batch");
    assert!(
        store
            .get_pending_inbound("chat", "sender", "id2")
            .await
            .expect("get")
            .is_none()
    );
}

async fn msg_secrets(store: &WaStore) {
    let entry = |secret: u8, expires_at, message_ts| MsgSecretEntry {
        chat: Arc::from("chat"),
        sender: Arc::from("me"),
        msg_id: Arc::from("M1"),
        secret: [secret; 32],
        expires_at,
        message_ts,
    };
    assert_eq!(
        store
            .put_msg_secrets(vec![entry(1, 100, 10)])
            .await
            .expect("put"),
        1
    );
    store
        .put_msg_secrets(vec![entry(2, 50, 0)])
        .await
        .expect("merge");
    let (secret, ts) = store
        .get_msg_secret_with_ts("chat", "me", "M1")
        .await
        .expect("get")
        .expect("row");
    assert_eq!(secret, vec![2; 32], "the newest secret is kept");
    assert_eq!(
        ts, 10,
        "an unknown parent time does not clobber a known one"
    );
    assert_eq!(
        store.delete_expired_msg_secrets(99).await.expect("expire"),
        0,
        "the later deadline (100) was kept"
    );
    store
        .put_msg_secrets(vec![entry(3, 0, 0)])
        .await
        .expect("never expires");
    assert_eq!(
        store
            .delete_expired_msg_secrets(i64::MAX)
            .await
            .expect("expire"),
        0,
        "0 means never"
    );
    store
        .put_msg_secret("chat", "me", "M2", &[4; 32])
        .await
        .expect("put one");
    assert_eq!(
        store.get_msg_secret("chat", "me", "M2").await.expect("get"),
        Some(vec![4; 32])
    );
}

async fn isolation_and_cascade(db: &Db) {
    let first = new_store(db).await;
    let second = new_store(db).await;
    first.put_session("1@lid", b"first").await.expect("put");
    assert!(
        second.get_session("1@lid").await.expect("get").is_none(),
        "devices share state"
    );
    second.put_session("1@lid", b"second").await.expect("put");
    assert_eq!(
        first.get_session("1@lid").await.expect("get").as_deref(),
        Some(&b"first"[..])
    );

    WaStore::delete_device(db, first.device_id())
        .await
        .expect("delete");
    assert!(!first.exists().await.expect("exists"));
    assert!(
        first.get_session("1@lid").await.expect("get").is_none(),
        "the device's state outlived it"
    );
    assert_eq!(
        second.get_session("1@lid").await.expect("get").as_deref(),
        Some(&b"second"[..])
    );
}

#[tokio::test]
async fn store_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    all_checks(sqlite_db(dir.path()).await).await;
}

#[tokio::test]
async fn store_on_postgres() {
    all_checks(postgres_db().await).await;
}

/// The library's own persistence layer on our store: it creates the device's keys, saves
/// them, and after a "restart" (a new manager on the same row) finds the same identity.
#[tokio::test]
async fn the_library_persists_its_device_through_our_store() {
    use whatsapp_rust::store::persistence_manager::PersistenceManager;

    let dir = tempfile::tempdir().expect("temp dir");
    let db = sqlite_db(dir.path()).await;
    let device_id = WaStore::create_device(&db).await.expect("device row");
    let open = || Arc::new(WaStore::open(db.clone(), device_id, Arc::new(SystemClock)));

    let manager = PersistenceManager::new(open()).await.expect("manager");
    manager
        .modify_device(|device| device.push_name = "Bridge test".into())
        .await;
    manager.flush().await.expect("flush");
    let identity = manager
        .get_device_snapshot()
        .identity_key
        .public_key
        .public_key_bytes()
        .to_vec();
    drop(manager);

    let reopened = PersistenceManager::new(open())
        .await
        .expect("manager again");
    let device = reopened.get_device_snapshot();
    assert_eq!(device.push_name, "Bridge test");
    assert_eq!(
        device.identity_key.public_key.public_key_bytes().to_vec(),
        identity,
        "the identity changed across a restart"
    );
}

/// Logins that start at once each get a device row of their own (Postgres once gave two
/// of them the same next number).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn devices_created_at_once_get_distinct_rows() {
    let db = postgres_db().await;
    let creations: Vec<_> = (0..16)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { WaStore::create_device(&db).await })
        })
        .collect();
    let mut ids = Vec::new();
    for creation in creations {
        ids.push(creation.await.expect("task").expect("a device row"));
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 16, "every login got its own device");
}
