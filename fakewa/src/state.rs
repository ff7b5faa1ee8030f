//! State shared by the accept loop, every connection and the test API.

use crate::adv::Voucher;
use crate::cert::key_bytes;
use crate::link_code::{CodeRequest, PrimaryHello};
use crate::noise::HandshakePattern;
use crate::server::ServerKeys;
use crate::signal::{CompanionKeys, PeerDevice};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, mpsc};
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::KeyPair;

/// Identifies one client connection for the lifetime of the server.
pub type ConnId = u64;

/// What the server saw or did; tests subscribe with `FakeServer::events`.
#[derive(Debug, Clone)]
pub enum ServerEvent {
    Handshake {
        conn: ConnId,
        pattern: HandshakePattern,
    },
    /// A registration payload was answered with QR refs.
    PairDeviceSent {
        conn: ConnId,
        refs: Vec<String>,
        /// The name the companion gives itself (its `DeviceProps.os`), which the
        /// phone shows under "Linked devices".
        device_name: Option<String>,
    },
    /// A companion asked to link to `number` by code (`companion_hello`).
    PairCodeRequested {
        conn: ConnId,
        number: String,
    },
    Paired {
        conn: ConnId,
        jid: Jid,
        lid: Jid,
    },
    PairingFailed {
        conn: ConnId,
        reason: String,
    },
    LoggedIn {
        conn: ConnId,
        jid: Jid,
    },
    LoginRejected {
        conn: ConnId,
        reason: String,
    },
    Received {
        conn: ConnId,
        node: Node,
    },
    /// A node the server sent on a connection.
    Sent {
        conn: ConnId,
        node: Node,
    },
    PrekeysUploaded {
        jid: Jid,
        count: usize,
    },
    Disconnected {
        conn: ConnId,
    },
    /// A simulated phone decrypted what a companion sent.
    MessageDecrypted(ReceivedMessage),
    /// A simulated phone could not decrypt its copy of a message.
    DecryptFailed {
        recipient: Jid,
        sender: Jid,
        id: String,
        reason: String,
    },
    /// A companion's message (or one copy of it) could not be delivered.
    MessageRejected {
        sender: Jid,
        id: String,
        reason: String,
    },
    /// A companion acknowledged stanzas the server queued for it.
    Acknowledged {
        device: Jid,
        class: String,
        ids: Vec<String>,
        error: Option<String>,
    },
    /// A companion sent a receipt (delivered, read, played, …).
    ClientReceipt {
        device: Jid,
        to: Option<Jid>,
        participant: Option<Jid>,
        ids: Vec<String>,
        kind: Option<String>,
    },
    /// A companion could not decrypt a message and asked for it again.
    RetryRequested {
        device: Jid,
        id: String,
        count: u32,
    },
    /// A companion sent `<presence>` or `<chatstate>`.
    Presence {
        device: Jid,
        node: Node,
    },
    /// A companion uploaded a file to the media server.
    MediaUploaded {
        direct_path: String,
        size: usize,
    },
    /// Someone downloaded a stored file.
    MediaFetched {
        direct_path: String,
    },
    /// A companion was unlinked, by itself or from the phone.
    DeviceUnlinked {
        jid: Jid,
        by_companion: bool,
    },
}

/// One `<iq xmlns="encrypt" type="set">` prekey upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrekeyUpload {
    pub registration_id: u32,
    pub identity: Vec<u8>,
    pub prekey_ids: Vec<u32>,
    pub signed_prekey_id: Option<u32>,
}

/// One WhatsApp account: its primary device (the phone) is simulated, and
/// real clients may be linked to it as companions. The user under test and
/// every contact are accounts.
pub(crate) struct Account {
    pub lid_user: String,
    pub push_name: String,
    /// Signs the ADV identities of companions; also the phone's Signal
    /// identity, as on WhatsApp.
    pub account_key: KeyPair,
    pub primary: PeerDevice,
    pub next_device: u16,
    pub next_key_index: u32,
    /// Profile picture, served by `w:profile:picture`.
    pub picture: Option<crate::media::StoredPicture>,
    /// The app state the phone keeps (its address book) and the key it shares.
    pub app_state: crate::app_state::AppState,
    /// The phone is switched off or without internet: it answers nothing.
    pub phone_offline: bool,
    /// What the phone holds of each chat (by chat JID), oldest first: on-demand
    /// history requests are answered from here.
    pub archive: std::collections::HashMap<String, crate::history::HistoryConversation>,
}

impl Account {
    pub fn new(number: &str) -> crate::error::Result<Self> {
        let account_key = KeyPair::generate(&mut rand::rng());
        Ok(Self {
            // A LID is an opaque number unrelated to the phone number.
            lid_user: (100_000_000_000_000u64 + rand::random::<u64>() % 900_000_000_000_000)
                .to_string(),
            push_name: format!("Fake {number}"),
            primary: PeerDevice::new(&account_key)?,
            account_key,
            next_device: 1,
            next_key_index: 1,
            picture: None,
            app_state: crate::app_state::AppState::new(),
            phone_offline: false,
            archive: std::collections::HashMap::new(),
        })
    }
}

/// A companion the phone has linked.
#[derive(Debug, Clone)]
pub(crate) struct DeviceRecord {
    pub noise_public: [u8; 32],
    pub jid: Jid,
    pub lid: Jid,
    pub key_index: u32,
    /// The companion's countersigned `ADVSignedDeviceIdentity`.
    pub signed_identity: Vec<u8>,
}

/// A `pair-success` the connection is waiting to see answered.
#[derive(Debug, Clone)]
pub(crate) struct PendingPair {
    pub iq_id: String,
    pub voucher: Voucher,
    pub device: DeviceRecord,
}

pub(crate) enum ConnCommand {
    Send(Node),
    /// Send these raw bytes as one frame, encrypted but not a node.
    SendRawFrame(Vec<u8>),
    /// Send these bytes as one frame without the transport encryption.
    SendUnencryptedFrame(Vec<u8>),
    Pair {
        node: Node,
        pending: PendingPair,
    },
    PrimaryHello {
        node: Node,
        hello: PrimaryHello,
    },
    End(crate::script::StreamEnd),
    Close,
}

pub(crate) struct ConnEntry {
    pub client_static: [u8; 32],
    /// The companion logged in on this connection.
    pub device: Option<Jid>,
    pub refs: Vec<String>,
    pub code_request: Option<CodeRequest>,
    pub commands: mpsc::UnboundedSender<ConnCommand>,
}

pub(crate) struct State {
    pub next_conn: ConnId,
    pub conns: HashMap<ConnId, ConnEntry>,
    /// Accounts by phone number (digits).
    pub accounts: HashMap<String, Account>,
    pub devices: Vec<DeviceRecord>,
    pub prekeys: HashMap<String, Vec<PrekeyUpload>>,
    /// Key material each companion uploaded, by device JID.
    pub device_keys: HashMap<String, CompanionKeys>,
    pub received: Vec<(ConnId, Node)>,
    pub login_failures: std::collections::VecDeque<crate::script::LoginFailure>,
    pub delivery: crate::delivery::Delivery,
    pub groups: HashMap<String, crate::groups::Group>,
    pub media: crate::media::MediaStore,
    /// What simulated devices sent, by message id, for retry receipts.
    pub sent: HashMap<String, crate::outbound::SentMessage>,
    /// Everything a simulated device decrypted, in order.
    pub decrypted: Vec<ReceivedMessage>,
    pub next_message: u64,
    /// Whether the phone greets a new companion (app-state key, push names).
    pub welcome_new_devices: bool,
    /// QR refs offered per registration.
    pub qr_refs: usize,
    /// While set, retry receipts wait in `held_retries` instead of being answered.
    pub retries_held: bool,
    pub held_retries: Vec<HeldRetry>,
}

/// A retry receipt the server has not answered yet.
#[derive(Clone)]
pub(crate) struct HeldRetry {
    pub device: DeviceRecord,
    pub id: String,
    pub count: u32,
    pub bundle: Option<crate::signal::bundle::WireBundle>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            next_conn: 0,
            conns: HashMap::new(),
            accounts: HashMap::new(),
            devices: Vec::new(),
            prekeys: HashMap::new(),
            device_keys: HashMap::new(),
            received: Vec::new(),
            login_failures: Default::default(),
            delivery: Default::default(),
            groups: HashMap::new(),
            media: Default::default(),
            sent: HashMap::new(),
            decrypted: Vec::new(),
            next_message: 0,
            welcome_new_devices: true,
            qr_refs: crate::session::QR_REF_COUNT,
            retries_held: false,
            held_retries: Vec::new(),
        }
    }
}

impl State {
    pub fn account(&self, number: &str) -> crate::error::Result<&Account> {
        self.accounts
            .get(number)
            .ok_or_else(|| crate::error::FakeWaError::UnknownAccount(number.to_owned()))
    }

    pub fn account_mut(&mut self, number: &str) -> crate::error::Result<&mut Account> {
        self.accounts
            .get_mut(number)
            .ok_or_else(|| crate::error::FakeWaError::UnknownAccount(number.to_owned()))
    }

    /// The phone number behind a user part that may be a phone number or a LID.
    pub fn number_of(&self, jid: &Jid) -> Option<String> {
        if jid.is_lid() {
            self.accounts
                .iter()
                .find(|(_, account)| account.lid_user == jid.user)
                .map(|(number, _)| number.clone())
        } else if self.accounts.contains_key(jid.user.as_str()) {
            Some(jid.user.to_string())
        } else {
            None
        }
    }

    /// The companions linked to `number`, oldest first.
    pub fn companions_of(&self, number: &str) -> Vec<DeviceRecord> {
        self.devices
            .iter()
            .filter(|record| record.jid.user == number)
            .cloned()
            .collect()
    }

    pub fn device(&self, number: &str, device: u16) -> Option<&DeviceRecord> {
        self.devices
            .iter()
            .find(|record| record.jid.user == number && record.jid.device == device)
    }

    /// A fresh stanza id, unique for the server's lifetime.
    pub fn message_id(&mut self) -> String {
        self.next_message += 1;
        format!("FAKE{:016X}", self.next_message)
    }
}

/// A message one of the simulated devices decrypted: what a real client sent.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The account whose phone decrypted it.
    pub recipient: Jid,
    /// The companion device that sent it.
    pub sender: Jid,
    /// The chat as the recipient sees it: the sender's account for a direct
    /// message, the destination for a copy sent to the user's own phone, or
    /// the group.
    pub chat: Jid,
    pub id: String,
    pub message: Box<waproto::whatsapp::Message>,
}

/// The keys the next handshake uses, and the chain that certifies them.
pub(crate) struct ActiveKeys {
    pub keys: ServerKeys,
    pub cert_chain: Vec<u8>,
}

impl ActiveKeys {
    pub fn new(keys: ServerKeys) -> crate::error::Result<Self> {
        let cert_chain = keys.authority.chain_for(&key_bytes(&keys.static_key))?;
        Ok(Self { keys, cert_chain })
    }
}

pub(crate) struct Shared {
    active: Mutex<Arc<ActiveKeys>>,
    /// `host:port` of the media server, as `media_conn` names it.
    media_host: Mutex<String>,
    silent: std::sync::atomic::AtomicBool,
    refusing: std::sync::atomic::AtomicBool,
    pub events: broadcast::Sender<ServerEvent>,
    state: Mutex<State>,
}

/// Room for every node of a pairing and login without a slow test reader
/// losing events.
const EVENT_CAPACITY: usize = 16_384;

impl Shared {
    pub fn new(active: ActiveKeys) -> Self {
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Self {
            active: Mutex::new(Arc::new(active)),
            media_host: Mutex::new(String::new()),
            silent: std::sync::atomic::AtomicBool::new(false),
            refusing: std::sync::atomic::AtomicBool::new(false),
            events,
            state: Mutex::new(State::default()),
        }
    }

    /// A poisoned lock only means a test thread panicked; the data is still
    /// consistent enough to keep serving and report.
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn active_keys(&self) -> Arc<ActiveKeys> {
        self.active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn replace_keys(&self, active: ActiveKeys) {
        *self
            .active
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(active);
    }

    pub fn media_host(&self) -> String {
        self.media_host
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn set_media_host(&self, host: String) {
        *self
            .media_host
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = host;
    }

    pub fn is_silent(&self) -> bool {
        self.silent.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_silent(&self, silent: bool) {
        self.silent
            .store(silent, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn is_refusing(&self) -> bool {
        self.refusing.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_refusing(&self, refusing: bool) {
        self.refusing
            .store(refusing, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn emit(&self, event: ServerEvent) {
        // No subscriber is fine: events are for tests that ask for them.
        let _ = self.events.send(event);
    }
}
