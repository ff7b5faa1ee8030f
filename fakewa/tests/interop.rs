//! The interop check: the fake WhatsApp server is only worth something if
//! real, independent WhatsApp Web clients accept it. Three of them — the
//! whatsapp-rust library the bridge uses, whatsmeow (PyPI neonize) and
//! Baileys (npm) — go through the same scenario against it: handshake, QR
//! pairing, the 515 restart and login, prekey upload, a dropped socket and
//! the client's reconnect, a 1:1 and a group message from fake contacts, a
//! message to a contact that the contact's phone decrypts, a history sync,
//! and linking with a pairing code. The check prints a pass/fail table per
//! client and step and fails if any step fails.

#[path = "support/mod.rs"]
mod support;

#[path = "interop/driver.rs"]
mod driver;
#[path = "interop/proxy.rs"]
mod proxy;
#[path = "interop/report.rs"]
mod report;

use driver::{Driver, Installs};
use fakewa::{
    FakeServer, HandshakePattern, HistoryConversation, HistoryDelivery, HistoryMessage,
    HistorySyncScript, HistorySyncType, Jid, Role, ServerEvent,
};
use proxy::ConnectProxy;
use report::Report;
use serde_json::json;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::text_of;
use tokio::sync::broadcast;
use whatsapp_rust::wacore::types::events::Event;

const USER: &str = "15550001234";
const ALICE: &str = "15550002001";
const BOB: &str = "15550002002";
/// Generous: a cold whatsmeow start loads a 19 MB Go library first.
const WAIT: Duration = Duration::from_secs(45);

const HANDSHAKE: &str = "Noise handshake";
const QR_SHOWN: &str = "registration, QR code shown";
const QR_PAIRING: &str = "QR pairing (ADV signatures)";
const LOGIN: &str = "515 restart and login";
const PREKEYS: &str = "prekey upload";
const RECONNECT: &str = "socket dropped, client reconnects";
const DIRECT_IN: &str = "1:1 message from a contact";
const GROUP_IN: &str = "group message from a contact";
const DIRECT_OUT: &str = "message to a contact, decrypted";
const HISTORY: &str = "history sync";
const RESUME: &str = "restarted client logs in, no QR";
const PAIR_CODE: &str = "linking with a pairing code";
const WRONG_ROOT: &str = "refuses a chain from another root";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Client {
    Whatsmeow,
    Baileys,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Self::Whatsmeow => "whatsmeow",
            Self::Baileys => "baileys",
        }
    }
}

/// The next server event `pick` accepts, within [`WAIT`].
async fn on_server<T>(
    seen: &mut broadcast::Receiver<ServerEvent>,
    what: &str,
    pick: impl Fn(&ServerEvent) -> Option<T>,
) -> Result<T, String> {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Ok(event)) => {
                if let Some(found) = pick(&event) {
                    return Ok(found);
                }
            }
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(broadcast::error::RecvError::Closed)) => {
                return Err(format!("server gone while waiting for {what}"));
            }
            Err(_) => {
                return Err(format!(
                    "the server saw nothing of {what} within {} s",
                    WAIT.as_secs()
                ));
            }
        }
    }
}

fn history_script(alice: &Jid) -> HistorySyncScript {
    let mut script = HistorySyncScript::new(HistorySyncType::INITIAL_BOOTSTRAP);
    script.conversations.push(HistoryConversation {
        chat: alice.clone(),
        name: Some("Alice".into()),
        unread_count: 1,
        messages: vec![
            HistoryMessage::text("INTEROPH1", false, 1_700_000_000, "an old question"),
            HistoryMessage::text("INTEROPH2", true, 1_700_000_060, "an old answer"),
        ],
        ..Default::default()
    });
    script
}

/// The decrypted copy of a message a contact's phone got.
async fn decrypted_at(
    seen: &mut broadcast::Receiver<ServerEvent>,
    recipient: &str,
    text: &str,
) -> Result<(), String> {
    on_server(
        seen,
        "the contact's phone decrypt the message",
        |event| match event {
            ServerEvent::MessageDecrypted(received)
                if received.recipient.user == recipient
                    && text_of(&received.message).as_deref() == Some(text) =>
            {
                Some(Ok(()))
            }
            ServerEvent::DecryptFailed {
                recipient: who,
                reason,
                ..
            } if who.user == recipient => {
                Some(Err(format!("the contact could not decrypt: {reason}")))
            }
            _ => None,
        },
    )
    .await?
}

struct Run {
    server: FakeServer,
    _proxy: Option<ConnectProxy>,
    dir: tempfile::TempDir,
}

impl Run {
    /// The run and the server's events from its start on.
    async fn start(client: Client) -> Result<(Self, broadcast::Receiver<ServerEvent>), String> {
        let server = FakeServer::start().await.map_err(|err| err.to_string())?;
        let seen = server.events();
        let proxy = match client {
            Client::Whatsmeow => {
                let target = ([127, 0, 0, 1], server.tls_port()).into();
                Some(
                    ConnectProxy::start(target)
                        .await
                        .map_err(|err| err.to_string())?,
                )
            }
            Client::Baileys => None,
        };
        // INTEROP_KEEP=1 keeps every client's log and state.
        let keep = std::env::var_os("INTEROP_KEEP").is_some();
        let dir = tempfile::Builder::new()
            .prefix(&format!("fakewa-interop-{}-", client.name()))
            .disable_cleanup(keep)
            .tempdir()
            .map_err(|err| err.to_string())?;
        std::fs::write(dir.path().join("ca.pem"), server.ca_pem())
            .map_err(|err| err.to_string())?;
        Ok((
            Self {
                server,
                _proxy: proxy,
                dir,
            },
            seen,
        ))
    }

    /// Starts the client on a fresh state folder named `state`, trusting
    /// `root` (the server's, unless a test wants another).
    async fn driver(
        &self,
        client: Client,
        installs: &Installs,
        state: &str,
        root: [u8; 32],
    ) -> Result<Driver, String> {
        let root = root.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let state_dir = self.dir.path().join(state);
        let log = self.dir.path().join(format!("{state}.log"));
        let path = |p: &Path| p.to_string_lossy().into_owned();
        let (program, args) = match client {
            Client::Whatsmeow => (
                installs.python.clone(),
                vec![
                    path(&installs.scripts.join("whatsmeow_driver.py")),
                    "--root-key".into(),
                    root,
                    "--proxy".into(),
                    self._proxy
                        .as_ref()
                        .map(ConnectProxy::url)
                        .unwrap_or_default(),
                    "--state".into(),
                    path(&state_dir),
                    "--ca-file".into(),
                    path(&self.dir.path().join("ca.pem")),
                ],
            ),
            Client::Baileys => (
                "node".into(),
                vec![
                    path(&installs.scripts.join("baileys_driver.mjs")),
                    "--root-key".into(),
                    root,
                    "--url".into(),
                    self.server.url(),
                    "--state".into(),
                    path(&state_dir),
                    "--node-dir".into(),
                    path(&installs.node_dir),
                ],
            ),
        };
        Driver::spawn(&program, &args, log)
            .await
            .map_err(|err| format!("cannot start {}: {err}", client.name()))
    }
}

/// The scenario for a client driven over JSON lines.
async fn external(client: Client, installs: Arc<Installs>) -> Report {
    let mut report = Report::new(client.name());
    if let Err(err) = external_main(client, &installs, &mut report).await {
        report
            .steps
            .push(("setting up", report::Outcome::Fail(err)));
    }
    report.new_chain();
    if let Err(err) = external_pair_code(client, &installs, &mut report).await {
        report.steps.push((PAIR_CODE, report::Outcome::Fail(err)));
    }
    report.new_chain();
    match client {
        Client::Whatsmeow => {
            if let Err(err) = whatsmeow_wrong_root(&installs, &mut report).await {
                report.steps.push((WRONG_ROOT, report::Outcome::Fail(err)));
            }
        }
        // Baileys 7.0.0-rc14 ignores the chain's signatures (see the README).
        Client::Baileys => report.not_applicable(WRONG_ROOT),
    }
    report
}

async fn external_main(
    client: Client,
    installs: &Installs,
    report: &mut Report,
) -> Result<(), String> {
    let (run, mut seen) = Run::start(client).await?;
    let phone = run.server.phone(USER).map_err(|e| e.to_string())?;
    let alice = run.server.contact(ALICE).map_err(|e| e.to_string())?;
    run.server.contact(BOB).map_err(|e| e.to_string())?;
    let mut driver = run
        .driver(client, installs, "main", run.server.root_public_key())
        .await?;
    let seen = &mut seen;

    report
        .step(
            HANDSHAKE,
            on_server(seen, "a handshake", |event| {
                matches!(event, ServerEvent::Handshake { .. }).then_some(())
            }),
        )
        .await;
    let qr = report
        .step(QR_SHOWN, async {
            let qr = driver.expect("qr", WAIT, |_| true).await?;
            qr["code"]
                .as_str()
                .map(str::to_owned)
                .ok_or("qr without code".to_owned())
        })
        .await;
    let jid = report
        .step(QR_PAIRING, async {
            let qr = qr.ok_or("no QR")?;
            let started = phone.scan_qr(&qr).map_err(|e| e.to_string())?;
            let paired = driver.expect("paired", WAIT, |_| true).await?;
            let reported = paired["jid"].as_str().unwrap_or_default();
            if !reported.starts_with(&format!("{USER}:{}", started.jid.device)) {
                return Err(format!(
                    "client says it is {reported}, phone linked {}",
                    started.jid
                ));
            }
            on_server(seen, "the device signature check", |event| match event {
                ServerEvent::Paired { jid, .. } => Some(Ok(jid.clone())),
                ServerEvent::PairingFailed { reason, .. } => Some(Err(reason.clone())),
                _ => None,
            })
            .await?
        })
        .await;
    report
        .step(LOGIN, async {
            let jid = jid.clone().ok_or("not paired")?;
            on_server(seen, "a login", |event| match event {
                ServerEvent::LoggedIn { jid: who, .. } if *who == jid => Some(()),
                _ => None,
            })
            .await?;
            driver.expect("connected", WAIT, |_| true).await.map(drop)
        })
        .await;
    report
        .step(PREKEYS, async {
            let jid = jid.clone().ok_or("not paired")?;
            if run.server.prekey_uploads(&jid).is_empty() {
                on_server(seen, "a prekey upload", |event| match event {
                    ServerEvent::PrekeysUploaded { jid: who, count }
                        if *who == jid && *count > 0 =>
                    {
                        Some(())
                    }
                    _ => None,
                })
                .await?;
            }
            Ok(())
        })
        .await;
    report
        .step(RECONNECT, async {
            let jid = jid.clone().ok_or("not paired")?;
            let conn = run.server.connection_of(&jid).ok_or("not connected")?;
            run.server
                .drop_connection(conn)
                .map_err(|e| e.to_string())?;
            on_server(seen, "a new login after the drop", |event| match event {
                ServerEvent::LoggedIn {
                    jid: who,
                    conn: new,
                } if *who == jid && *new != conn => Some(()),
                _ => None,
            })
            .await?;
            driver.expect("connected", WAIT, |_| true).await.map(drop)
        })
        .await;
    report
        .step(DIRECT_IN, async {
            alice
                .send_text(USER, "hello from alice")
                .map_err(|e| e.to_string())?;
            driver
                .expect("message", WAIT, |event| event["text"] == "hello from alice")
                .await
                .map(drop)
        })
        .await;
    report
        .step(GROUP_IN, async {
            let group = run
                .server
                .create_group(
                    ALICE,
                    "Interop",
                    &[(USER, Role::Member), (BOB, Role::Member)],
                )
                .map_err(|e| e.to_string())?;
            alice
                .send_group_text(&group.jid(), "hello group")
                .map_err(|e| e.to_string())?;
            let got = driver
                .expect("message", WAIT, |event| event["text"] == "hello group")
                .await?;
            match (got["is_group"].as_bool(), got["chat"].as_str()) {
                (Some(true), Some(chat)) if chat == group.jid().to_string() => Ok(()),
                _ => Err(format!("not reported as the group's message: {got}")),
            }
        })
        .await;
    report
        .step(DIRECT_OUT, async {
            driver
                .send(
                    json!({"cmd": "send_text", "to": alice.jid().to_string(), "text": "hi alice"}),
                )
                .await
                .map_err(|e| e.to_string())?;
            decrypted_at(seen, ALICE, "hi alice").await
        })
        .await;
    report
        .step(HISTORY, async {
            // Baileys can only fetch blobs from WhatsApp's own host, so it
            // gets the payload inline; whatsmeow downloads it.
            let delivery = match client {
                Client::Whatsmeow => HistoryDelivery::Download,
                Client::Baileys => HistoryDelivery::Inline,
            };
            phone
                .send_history_sync(&history_script(&alice.jid()), delivery)
                .map_err(|e| e.to_string())?;
            driver
                .expect("history_sync", WAIT, |event| {
                    event["messages"].as_u64().unwrap_or(0) >= 2
                })
                .await
                .map(drop)
        })
        .await;
    driver.quit().await;
    report
        .step(RESUME, async {
            let jid = jid.clone().ok_or("not paired")?;
            let mut again = run
                .driver(client, installs, "main", run.server.root_public_key())
                .await?;
            let outcome = async {
                on_server(
                    seen,
                    "a login of the restarted client",
                    |event| match event {
                        ServerEvent::LoggedIn { jid: who, .. } if *who == jid => Some(Ok(())),
                        ServerEvent::PairDeviceSent { .. } => {
                            Some(Err("the restarted client registered anew".to_owned()))
                        }
                        _ => None,
                    },
                )
                .await??;
                again.expect("connected", WAIT, |_| true).await.map(drop)?;
                match again.seen("qr") {
                    true => Err("the restarted client asked for a QR".to_owned()),
                    false => Ok(()),
                }
            }
            .await;
            again.quit().await;
            outcome
        })
        .await;
    Ok(())
}

async fn external_pair_code(
    client: Client,
    installs: &Installs,
    report: &mut Report,
) -> Result<(), String> {
    let (run, mut seen) = Run::start(client).await?;
    let phone = run.server.phone(USER).map_err(|e| e.to_string())?;
    let mut driver = run
        .driver(client, installs, "code", run.server.root_public_key())
        .await?;
    let seen = &mut seen;
    report
        .step(PAIR_CODE, async {
            driver.expect("qr", WAIT, |_| true).await?;
            driver
                .send(json!({"cmd": "pair_phone", "phone": USER}))
                .await
                .map_err(|e| e.to_string())?;
            let code = driver.expect("pair_code", WAIT, |_| true).await?;
            let code = code["code"]
                .as_str()
                .ok_or("pair_code without code")?
                .to_owned();
            on_server(seen, "the code request", |event| {
                matches!(event, ServerEvent::PairCodeRequested { .. }).then_some(())
            })
            .await?;
            phone.enter_pair_code(&code).map_err(|e| e.to_string())?;
            driver.expect("paired", WAIT, |_| true).await?;
            driver.expect("connected", WAIT, |_| true).await.map(drop)
        })
        .await;
    driver.quit().await;
    Ok(())
}

async fn whatsmeow_wrong_root(installs: &Installs, report: &mut Report) -> Result<(), String> {
    let (run, _) = Run::start(Client::Whatsmeow).await?;
    let mut other = run.server.root_public_key();
    other[0] ^= 0x80;
    other[31] ^= 0x01;
    let mut driver = run
        .driver(Client::Whatsmeow, installs, "wrong", other)
        .await?;
    report
        .step(WRONG_ROOT, async {
            let error = driver.expect("error", WAIT, |_| true).await?;
            let detail = error["detail"].as_str().unwrap_or_default();
            if detail.contains("cert") || detail.contains("verify") {
                Ok(())
            } else {
                Err(format!("refused, but not for the chain: {detail}"))
            }
        })
        .await;
    driver.quit().await;
    Ok(())
}

/// The same scenario with the library the bridge uses, in process.
async fn whatsapp_rust() -> Report {
    let mut report = Report::new("whatsapp-rust");
    if let Err(err) = whatsapp_rust_main(&mut report).await {
        report
            .steps
            .push(("setting up", report::Outcome::Fail(err)));
    }
    report.new_chain();
    if let Err(err) = whatsapp_rust_pair_code(&mut report).await {
        report.steps.push((PAIR_CODE, report::Outcome::Fail(err)));
    }
    // whatsapp-rust is built here with its certificate check off (the
    // danger feature); only the other clients can prove the chain.
    report.not_applicable(WRONG_ROOT);
    report
}

async fn client_event<T>(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<Arc<Event>>,
    what: &str,
    pick: impl Fn(&Event) -> Option<T>,
) -> Result<T, String> {
    support::client_event(events, what, pick)
        .await
        .map_err(|err| err.to_string())
}

fn has_text(event: &Event, text: &str) -> Option<Jid> {
    match event {
        Event::Messages(batch) => batch.messages.iter().find_map(|inbound| {
            (text_of(&inbound.message).as_deref() == Some(text))
                .then(|| inbound.info.source.chat.clone())
        }),
        _ => None,
    }
}

async fn whatsapp_rust_main(report: &mut Report) -> Result<(), String> {
    let server = FakeServer::start().await.map_err(|e| e.to_string())?;
    let mut seen = server.events();
    let phone = server.phone(USER).map_err(|e| e.to_string())?;
    let alice = server.contact(ALICE).map_err(|e| e.to_string())?;
    server.contact(BOB).map_err(|e| e.to_string())?;
    let backend: Arc<dyn whatsapp_rust::wacore::store::traits::Backend> =
        Arc::new(whatsapp_rust::wacore::store::InMemoryBackend::new());
    let (bot, mut events) =
        support::build_client_on(&server, backend.clone(), support::Linking::Qr)
            .await
            .map_err(|e| e.to_string())?;
    let client = bot.client();
    let handle = bot.spawn();
    let seen = &mut seen;

    report
        .step(
            HANDSHAKE,
            on_server(seen, "a handshake", |event| {
                matches!(event, ServerEvent::Handshake { .. }).then_some(())
            }),
        )
        .await;
    let qr = report
        .step(
            QR_SHOWN,
            client_event(&mut events, "a QR code", |event| match event {
                Event::PairingQrCode(qr) => Some(qr.code.clone()),
                _ => None,
            }),
        )
        .await;
    let jid = report
        .step(QR_PAIRING, async {
            let started = phone
                .scan_qr(&qr.ok_or("no QR")?)
                .map_err(|e| e.to_string())?;
            client_event(&mut events, "PairSuccess", |event| match event {
                Event::PairSuccess(success) => Some(success.id.clone()),
                _ => None,
            })
            .await?;
            Ok(started.jid)
        })
        .await;
    report
        .step(LOGIN, async {
            let jid = jid.clone().ok_or("not paired")?;
            on_server(seen, "a login", |event| match event {
                ServerEvent::LoggedIn { jid: who, .. } if *who == jid => Some(()),
                _ => None,
            })
            .await?;
            client_event(&mut events, "Connected", |event| {
                matches!(event, Event::Connected(_)).then_some(())
            })
            .await
        })
        .await;
    report
        .step(PREKEYS, async {
            let jid = jid.clone().ok_or("not paired")?;
            if server.prekey_uploads(&jid).is_empty() {
                on_server(seen, "a prekey upload", |event| match event {
                    ServerEvent::PrekeysUploaded { jid: who, .. } if *who == jid => Some(()),
                    _ => None,
                })
                .await?;
            }
            Ok(())
        })
        .await;
    report
        .step(RECONNECT, async {
            let jid = jid.clone().ok_or("not paired")?;
            let conn = server.connection_of(&jid).ok_or("not connected")?;
            server.drop_connection(conn).map_err(|e| e.to_string())?;
            let pattern = on_server(seen, "a handshake after the drop", |event| match event {
                ServerEvent::Handshake { pattern, conn: new } if *new != conn => Some(*pattern),
                _ => None,
            })
            .await?;
            if pattern != HandshakePattern::Ik {
                return Err(format!("resumed with {pattern:?}, not IK"));
            }
            client_event(&mut events, "Connected again", |event| {
                matches!(event, Event::Connected(_)).then_some(())
            })
            .await
        })
        .await;
    report
        .step(DIRECT_IN, async {
            alice
                .send_text(USER, "hello from alice")
                .map_err(|e| e.to_string())?;
            client_event(&mut events, "the message", |event| {
                has_text(event, "hello from alice")
            })
            .await
            .map(drop)
        })
        .await;
    report
        .step(GROUP_IN, async {
            let group = server
                .create_group(
                    ALICE,
                    "Interop",
                    &[(USER, Role::Member), (BOB, Role::Member)],
                )
                .map_err(|e| e.to_string())?;
            alice
                .send_group_text(&group.jid(), "hello group")
                .map_err(|e| e.to_string())?;
            let chat = client_event(&mut events, "the group message", |event| {
                has_text(event, "hello group")
            })
            .await?;
            (chat == group.jid())
                .then_some(())
                .ok_or(format!("arrived in {chat}"))
        })
        .await;
    report
        .step(DIRECT_OUT, async {
            client
                .send_text(alice.jid(), "hi alice")
                .await
                .map_err(|e| e.to_string())?;
            decrypted_at(seen, ALICE, "hi alice").await
        })
        .await;
    report
        .step(HISTORY, async {
            phone
                .send_history_sync(&history_script(&alice.jid()), HistoryDelivery::Download)
                .map_err(|e| e.to_string())?;
            let messages = client_event(&mut events, "the history sync", |event| match event {
                Event::HistorySync(sync) if sync.sync_type() == 0 => sync.get().map(|sync| {
                    sync.conversations
                        .iter()
                        .map(|c| c.messages.len())
                        .sum::<usize>()
                }),
                _ => None,
            })
            .await?;
            (messages == 2)
                .then_some(())
                .ok_or(format!("{messages} messages in the history"))
        })
        .await;
    client.disconnect().await;
    handle.abort();
    report
        .step(RESUME, async {
            let (bot, mut events) =
                support::build_client_on(&server, backend, support::Linking::Qr)
                    .await
                    .map_err(|e| e.to_string())?;
            let client = bot.client();
            let handle = bot.spawn();
            let outcome = client_event(&mut events, "Connected", |event| match event {
                Event::Connected(_) => Some(Ok(())),
                Event::PairingQrCode(_) => Some(Err("the restarted client shows a QR".to_owned())),
                _ => None,
            })
            .await;
            client.disconnect().await;
            handle.abort();
            outcome?
        })
        .await;
    Ok(())
}

async fn whatsapp_rust_pair_code(report: &mut Report) -> Result<(), String> {
    let server = FakeServer::start().await.map_err(|e| e.to_string())?;
    let phone = server.phone(USER).map_err(|e| e.to_string())?;
    let (bot, mut events) = support::build_client(&server, support::Linking::PairCode(USER))
        .await
        .map_err(|e| e.to_string())?;
    let client = bot.client();
    let handle = bot.spawn();
    report
        .step(PAIR_CODE, async {
            let code = client_event(&mut events, "a pairing code", |event| match event {
                Event::PairingCode(code) => Some(code.code.clone()),
                _ => None,
            })
            .await?;
            phone.enter_pair_code(&code).map_err(|e| e.to_string())?;
            client_event(&mut events, "Connected", |event| {
                matches!(event, Event::Connected(_)).then_some(())
            })
            .await
        })
        .await;
    client.disconnect().await;
    handle.abort();
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_clients_accept_the_fake_server() -> Result<(), Box<dyn std::error::Error>> {
    let _ = env_logger::builder().is_test(true).try_init();
    let started = Instant::now();
    let installs = Arc::new(Installs::prepare().await.map_err(|err| err.to_string())?);
    let (rust, whatsmeow, baileys) = tokio::join!(
        whatsapp_rust(),
        external(Client::Whatsmeow, installs.clone()),
        external(Client::Baileys, installs.clone()),
    );
    let reports = [rust, whatsmeow, baileys];
    let table = report::table(&reports, started.elapsed());
    // Straight to stderr, past the test harness's capture: the table is the
    // check's output whether it passes or not.
    let _ = std::io::stderr().write_all(table.as_bytes());
    let failures: Vec<String> = reports.iter().flat_map(Report::failures).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n").into())
    }
}
