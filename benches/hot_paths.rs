//! The bridge's hot paths, each on its own: a WhatsApp message converted to the events
//! that show it in Matrix, a Matrix message converted to WhatsApp, a command parsed, and
//! whatsapp-rust's protocol state saved to and loaded from the bridge's database.
//! `cargo bench --bench hot_paths` prints the figures; `cargo test` runs each once.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use matrix_whatsapp::bridge::commands::{PrefixRule, parse};
use matrix_whatsapp::clock::SystemClock;
use matrix_whatsapp::config::{DatabaseConfig, DatabaseType};
use matrix_whatsapp::convert::mentions::Mentions;
use matrix_whatsapp::convert::{to_matrix, to_whatsapp};
use matrix_whatsapp::db::{self, Db};
use matrix_whatsapp::whatsapp::inbox::InboxEntry;
use matrix_whatsapp::whatsapp::store::WaStore;
use ruma::events::room::message::RoomMessageEventContent;
use tokio::runtime::Runtime;
use wacore::libsignal::protocol::{
    BobSignalProtocolParameters, ChainKey, IdentityKey, IdentityKeyPair, KeyPair, PrivateKey,
    SessionRecord, SessionState, UsePQRatchet, initialize_bob_session,
};
use wacore::store::traits::{DeviceStore, SignalStore};
use wacore::store::{CachedNoiseCert, CachedServerCertChain, Device};
use whatsapp_rust::Jid;
use whatsapp_rust::waproto::buffa::Message as _;
use whatsapp_rust::waproto::whatsapp as wa;

/// An inbox entry holding `text` from a contact, as the bridge stores it.
fn entry(text: &str) -> InboxEntry {
    let message = wa::Message {
        conversation: Some(text.to_owned()),
        ..Default::default()
    };
    InboxEntry {
        seq: 1,
        chat: "15550002001@s.whatsapp.net".into(),
        sender: "15550002001@s.whatsapp.net".into(),
        sender_alt: String::new(),
        message_id: "3EB0BENCH".into(),
        sent_at_ms: 1_700_000_000_000,
        push_name: "Alice".into(),
        from_me: false,
        payload: message.encode_to_vec(),
        undecryptable: false,
        business_name: String::new(),
    }
}

fn to_matrix(c: &mut Criterion) {
    let mentions = Mentions::default();
    let plain = entry("see you at the station at eight, bring the tickets");
    let formatted = entry("*bold* _italic_ ~struck~ `code`\n> a quote\n- one\n- two");
    let long = entry(&"all work and no play makes a dull message. ".repeat(240));
    c.bench_function("to_matrix/plain_text", |b| {
        b.iter(|| to_matrix::convert(black_box(&plain), &mentions))
    });
    c.bench_function("to_matrix/formatted_text", |b| {
        b.iter(|| to_matrix::convert(black_box(&formatted), &mentions))
    });
    c.bench_function("to_matrix/10kb_text", |b| {
        b.iter(|| to_matrix::convert(black_box(&long), &mentions))
    });
}

fn to_whatsapp(c: &mut Criterion) {
    let mentions = Mentions::default();
    let plain = RoomMessageEventContent::text_plain("see you at the station at eight");
    let html = RoomMessageEventContent::text_html(
        "bold, italic and code",
        "<strong>bold</strong>, <em>italic</em> and <code>code</code><br><blockquote>a quote</blockquote><ul><li>one</li><li>two</li></ul>",
    );
    c.bench_function("to_whatsapp/plain_text", |b| {
        b.iter(|| to_whatsapp::convert(black_box(&plain), None, &mentions))
    });
    c.bench_function("to_whatsapp/html", |b| {
        b.iter(|| to_whatsapp::convert(black_box(&html), None, &mentions))
    });
}

fn commands(c: &mut Criterion) {
    c.bench_function("commands/parse", |b| {
        b.iter(|| {
            parse(
                black_box("!wa start-chat +44 7700 900123"),
                "!wa",
                PrefixRule::Required,
            )
        })
    });
}

/// The Signal address of a contact's phone, as the library keys its session.
const CONTACT: &str = "100000000000001:0@lid";

/// A key pair of the library's own types, from random bytes.
fn key_pair() -> KeyPair {
    let private = PrivateKey::deserialize(&rand::random::<[u8; 32]>()).expect("a private key");
    KeyPair::try_from(private).expect("its public key")
}

fn identity_key_pair() -> IdentityKeyPair {
    let pair = key_pair();
    IdentityKeyPair::new(IdentityKey::new(pair.public_key), pair.private_key)
}

/// One session with a contact as the library builds it from their first message: our
/// sending chain and the receiving chain that message opened.
fn session_state(ours: &IdentityKeyPair, theirs: &IdentityKey) -> SessionState {
    let parameters = BobSignalProtocolParameters::new(
        ours.clone(),
        key_pair(),
        Some(key_pair()),
        key_pair(),
        *theirs,
        key_pair().public_key,
        UsePQRatchet::No,
    );
    let mut state = initialize_bob_session(&parameters).expect("a session");
    state.add_receiver_chain(
        &key_pair().public_key,
        &ChainKey::new(rand::random::<[u8; 32]>(), 4),
    );
    state.set_local_registration_id(4242);
    state.set_remote_registration_id(1717);
    state
}

/// A Signal session record as the library serializes it: the current session and one
/// archived before it (the contact's device set up a new session once): 676 bytes.
fn session_record() -> Vec<u8> {
    let ours = identity_key_pair();
    let theirs = *identity_key_pair().identity_key();
    let mut record = SessionRecord::new(session_state(&ours, &theirs));
    record.promote_state(session_state(&ours, &theirs));
    record.serialize().expect("a serialized session")
}

/// The device record of a linked, connected bridge login: its keys, both of its JIDs,
/// the account's signed identity from pairing, and what the server sent since (about
/// 2.6 KB as the store serializes it).
fn linked_device() -> Device {
    let mut device = Device::new();
    device.pn = Some(Jid::pn_device("15550001000", 12));
    device.lid = Some(Jid::lid_device("100000000000777", 12));
    device.push_name = "Alice Example".into();
    let details = wa::ADVDeviceIdentity {
        raw_id: Some(1_234_567_890),
        timestamp: Some(1_700_000_000),
        key_index: Some(3),
        ..Default::default()
    };
    device.account = Some(Arc::new(wa::ADVSignedDeviceIdentity {
        details: Some(details.encode_to_vec()),
        account_signature_key: Some(vec![5; 32]),
        account_signature: Some(vec![6; 64]),
        device_signature: Some(vec![7; 64]),
    }));
    device.app_version_primary = 2;
    device.app_version_secondary = 3000;
    device.app_version_tertiary = 1_023_456_789;
    device.app_version_last_fetched_ms = 1_700_000_000_000;
    device.edge_routing_info = Some(vec![8; 12]);
    device.props_hash = Some("4f2d1c9a".into());
    device.next_pre_key_id = 813;
    device.first_unupload_pre_key_id = 813;
    device.server_has_prekeys = true;
    device.nct_salt = Some(vec![9; 32]);
    let cert = |key| CachedNoiseCert {
        key,
        not_before: 1_700_000_000,
        not_after: 1_800_000_000,
    };
    device.server_cert_chain = Some(CachedServerCertChain {
        intermediate: cert([10; 32]),
        leaf: cert([11; 32]),
    });
    device.login_counter = 17;
    device.lid_migrated = true;
    device
}

/// A temporary SQLite file opened as the bridge opens its database (WAL, synchronous
/// FULL, so each commit waits for the disk; the default pool size), migrations run.
async fn open_sqlite(dir: &Path) -> Db {
    let config = DatabaseConfig {
        kind: DatabaseType::Sqlite,
        uri: "bench.db".into(),
        ..Default::default()
    };
    db::connect(&config, dir)
        .await
        .expect("the SQLite database")
}

/// A fresh Postgres database on the server the tests use, dropped when done.
struct FreshPostgres {
    admin: String,
    name: String,
    db: Db,
}

impl FreshPostgres {
    /// Creates the database, or says why there is none (no server answering).
    async fn create() -> Result<Self, String> {
        use sqlx::Connection;
        let admin = std::env::var("MATRIX_WHATSAPP_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let mut url = url::Url::parse(&admin).map_err(|err| format!("bad Postgres URL: {err}"))?;
        let server = format!(
            "{}:{}",
            url.host_str().unwrap_or("?"),
            url.port().unwrap_or(5432)
        );
        let mut conn =
            tokio::time::timeout(Duration::from_secs(3), sqlx::PgConnection::connect(&admin))
                .await
                .map_err(|_| format!("Postgres at {server} did not answer within 3 s"))?
                .map_err(|err| format!("Postgres at {server} did not answer: {err}"))?;
        let name = format!("mw_bench_{}", rand::random::<u64>());
        // The name is our own random digits, not outside input.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .map_err(|err| format!("cannot create a database on {server}: {err}"))?;
        url.set_path(&name);
        let config = DatabaseConfig {
            kind: DatabaseType::Postgres,
            uri: url.to_string(),
            ..Default::default()
        };
        let db = db::connect(&config, Path::new("."))
            .await
            .expect("the fresh Postgres database");
        Ok(Self { admin, name, db })
    }

    async fn drop_database(self) {
        use sqlx::Connection;
        self.db.close().await;
        let mut conn = sqlx::PgConnection::connect(&self.admin)
            .await
            .expect("Postgres, again");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE {}", self.name)))
            .execute(&mut conn)
            .await
            .expect("drop the bench database");
    }
}

/// The store on one database, each call awaited to completion as the library awaits it:
/// - `put_session`: one session record saved (an upsert of the contact's row, in its own
///   transaction), as after every message encrypted or decrypted;
/// - `put_sessions_batch/16`: 16 records in one transaction, the way the library's cache
///   writes back the sessions a group message touched;
/// - `get_session`: that record loaded back, as on a cache miss;
/// - `device_save`: the device record serialized and saved, as after every change to it;
/// - `device_load`: the device record loaded and deserialized, as at each start-up.
fn store_on(c: &mut Criterion, runtime: &Runtime, db: &Db) {
    let store = runtime.block_on(async {
        let id = WaStore::create_device(db).await.expect("a device row");
        WaStore::open(db.clone(), id, Arc::new(SystemClock))
    });
    let session = session_record();
    let batch: Vec<(Arc<str>, Bytes)> = (0..16)
        .map(|n| {
            let address = format!("2000000000{n:05}:0@lid");
            (Arc::from(address), Bytes::from(session_record()))
        })
        .collect();
    let device = linked_device();
    // Stored beforehand, so each bench also runs alone (`-- get_session`).
    runtime.block_on(async {
        store.put_session(CONTACT, &session).await.expect("seed");
        store.save(&device).await.expect("seed");
    });

    let mut group = c.benchmark_group(format!("store/{}", db.backend_name()));
    group.bench_function("put_session", |b| {
        b.iter(|| {
            runtime
                .block_on(store.put_session(CONTACT, black_box(&session)))
                .expect("put_session")
        })
    });
    group.bench_function("put_sessions_batch/16", |b| {
        b.iter(|| {
            runtime
                .block_on(store.put_sessions_batch(black_box(&batch)))
                .expect("put_sessions_batch")
        })
    });
    group.bench_function("get_session", |b| {
        b.iter(|| {
            runtime
                .block_on(store.get_session(black_box(CONTACT)))
                .expect("get_session")
                .expect("a stored session")
        })
    });
    group.bench_function("device_save", |b| {
        b.iter(|| {
            runtime
                .block_on(store.save(black_box(&device)))
                .expect("save")
        })
    });
    group.bench_function("device_load", |b| {
        b.iter(|| {
            runtime
                .block_on(store.load())
                .expect("load")
                .expect("a stored device")
        })
    });
    group.finish();
}

/// The store benches on SQLite, then on Postgres when a server answers (skipped with a
/// line saying so when none does).
fn store(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a Tokio runtime");
    // In the target folder, not /tmp: on a disk, as a bridge's database is, never tmpfs.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary folder");
    let sqlite = runtime.block_on(open_sqlite(dir.path()));
    store_on(c, &runtime, &sqlite);
    runtime.block_on(sqlite.close());

    match runtime.block_on(FreshPostgres::create()) {
        Ok(postgres) => {
            store_on(c, &runtime, &postgres.db);
            runtime.block_on(postgres.drop_database());
        }
        Err(reason) => println!("store/postgres: skipped, {reason}"),
    }
}

criterion_group!(hot_paths, to_matrix, to_whatsapp, commands, store);
criterion_main!(hot_paths);
