//! One linked device's connection to WhatsApp, on whatsapp-rust. Library events leave
//! here only as `SessionEvent`s, in order, through a channel; decrypted messages go to the
//! inbox before WhatsApp gets its acknowledgement.

use std::sync::Arc;

use tokio::sync::mpsc;
use wacore::pair_code::PairCodeOptions;
use wacore::store::DevicePropsOverride;
use wacore::types::events::{Event, EventHandler};
use whatsapp_rust::TokioRuntime;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::client::Client;
use whatsapp_rust_ureq_http_client::UreqHttpClient;

use super::address::{WaChat, WaUser};
use super::group::{GroupError, GroupInfo, GroupMember, GroupRole};
use super::history::HistoryStore;
use super::inbox::{Inbox, InboxHook};
use super::media::{Fetch, MediaError, MediaToFetch, ProfilePhoto, UploadKind, Uploaded};
use super::outgoing::{OutgoingMessage, SendError};
use super::phone::PhoneNumber;
use super::session_event::{OwnAccount, SessionEvent, from_own_phone, translate};
use super::store::WaStore;
use super::transport::NoDelayTransportFactory;

/// What every session of this bridge shares, from the config.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    pub websocket_url: String,
    /// None: ask WhatsApp for its current web version.
    pub version: Option<(u32, u32, u32)>,
    /// Shown on the phone under "Linked devices".
    pub device_name: String,
    /// Ask the phone, when linking, for its full history rather than the recent part.
    pub request_full_sync: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("could not start the WhatsApp session: {0}")]
pub struct SessionError(String);

/// Forwards events inline, as the library dispatches them, so their order is kept.
struct Forwarder {
    events: mpsc::UnboundedSender<SessionEvent>,
    /// Where the place of an undecryptable message is held.
    inbox: Inbox,
    /// The client, once built: it knows the account's own phone number and LID.
    client: Arc<std::sync::OnceLock<Arc<Client>>>,
    /// Where history payloads are kept the moment they arrive.
    history: HistoryStore,
}

impl Forwarder {
    fn own_account(&self) -> OwnAccount {
        let device = self
            .client
            .get()
            .map(|client| client.persistence_manager().get_device_snapshot());
        let user = |jid: Option<&whatsapp_rust::Jid>| jid.map(|jid| jid.user.to_string());
        OwnAccount {
            pn: device.as_ref().and_then(|device| user(device.pn.as_ref())),
            lid: device.as_ref().and_then(|device| user(device.lid.as_ref())),
        }
    }
}

impl Forwarder {
    /// Keeps a history payload, reads it, and says what it held.
    fn keep_history(&self, event: &Arc<Event>) {
        let history = self.history.clone();
        let events = self.events.clone();
        let own_jid = self
            .own_account()
            .pn
            .map(|pn| WaUser::Phone(pn).jid())
            .unwrap_or_default();
        let event = event.clone();
        tokio::spawn(async move {
            let Event::HistorySync(payload) = event.as_ref() else {
                return;
            };
            let now_ms = unix_now_ms();
            if let Err(err) = history.keep(payload, now_ms).await {
                tracing::error!(error = %err, "could not keep a history payload; its chats are missing until the phone sends it again");
                return;
            }
            match history.read_waiting(&own_jid, now_ms).await {
                Ok(read) => {
                    let _ = events.send(SessionEvent::HistoryStored(read));
                }
                Err(err) => {
                    tracing::warn!(error = %err, "could not read a kept history payload yet; it is read at the next start")
                }
            }
        });
    }
}

fn unix_now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| i64::try_from(since.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl EventHandler for Forwarder {
    fn handle_event(&self, event: Arc<Event>) {
        if matches!(event.as_ref(), Event::HistorySync(_)) {
            self.keep_history(&event);
            return;
        }
        if let Event::UndecryptableMessage(undecryptable) = event.as_ref() {
            let inbox = self.inbox.clone();
            let info = undecryptable.info.clone();
            let events = self.events.clone();
            tokio::spawn(async move {
                match inbox.hold_place(&info).await {
                    Ok(()) => {
                        let _ = events.send(SessionEvent::MessagesStored);
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not note an undecryptable message")
                    }
                }
            });
        }
        // A closed channel means the session is being torn down; nothing to tell.
        if matches!(event.as_ref(), Event::Receipt(_) | Event::Messages(_))
            && from_own_phone(&event, &self.own_account())
        {
            let _ = self.events.send(SessionEvent::PhoneSeen);
        }
        if let Some(translated) = translate(&event) {
            // A closed channel means the session is being torn down; nothing to tell.
            let _ = self.events.send(translated);
        }
    }
}

/// How a session starts.
#[derive(Debug, Clone, Copy)]
pub enum Linking<'a> {
    /// Link a new account with QR codes.
    Qr,
    /// Link a new account with a pairing code for this number.
    PairCode(&'a PhoneNumber),
    /// Resume the account of this number, linked before.
    Resume(&'a PhoneNumber),
}

/// Sends messages on a running session.
#[derive(Clone)]
pub struct SessionSender {
    client: Arc<Client>,
}

impl SessionSender {
    /// Downloads and decrypts the file a received message points at.
    pub async fn download(&self, media: &MediaToFetch) -> Result<Vec<u8>, MediaError> {
        let downloadable: &dyn wacore::download::Downloadable = match &media.0 {
            Fetch::Image(message) => message.as_ref(),
            Fetch::Video(message) => message.as_ref(),
            Fetch::Audio(message) => message.as_ref(),
            Fetch::Document(message) => message.as_ref(),
            Fetch::Sticker(message) => message.as_ref(),
        };
        self.client
            .download(downloadable)
            .await
            .map_err(|err| MediaError::Download(err.to_string()))
    }

    /// What WhatsApp says the group is now: name, description, members and roles.
    pub async fn group_info(&self, group: &WaChat) -> Result<GroupInfo, GroupError> {
        use whatsapp_rust::GroupError as LibraryError;
        let jid: whatsapp_rust::Jid = match group {
            WaChat::Group(_) => group
                .jid()
                .parse()
                .map_err(|_| GroupError::BadGroup(group.jid()))?,
            WaChat::Direct(_) => return Err(GroupError::BadGroup(group.jid())),
        };
        let metadata = match self.client.groups().get_metadata(&jid).await {
            Ok(metadata) => metadata,
            // 403: not a participant; 404: no such group (or it was deleted).
            Err(LibraryError::Iq(whatsapp_rust::IqError::ServerError {
                code: 403 | 404, ..
            })) => return Err(GroupError::NotMember),
            Err(err) => return Err(GroupError::Failed(err.to_string())),
        };
        let members = metadata
            .participants
            .iter()
            .filter_map(|participant| {
                let by_phone = participant
                    .phone_number
                    .as_ref()
                    .and_then(|pn| WaUser::parse(&pn.to_string()));
                let user = by_phone.or_else(|| WaUser::parse(&participant.jid.to_string()))?;
                let role = match participant.participant_type {
                    wacore::iq::groups::ParticipantType::SuperAdmin => GroupRole::SuperAdmin,
                    wacore::iq::groups::ParticipantType::Admin => GroupRole::Admin,
                    _ => GroupRole::Member,
                };
                Some(GroupMember { user, role })
            })
            .collect();
        Ok(GroupInfo {
            name: metadata.subject,
            description: metadata.description.filter(|text| !text.trim().is_empty()),
            members,
        })
    }

    /// The groups the account is a member of.
    pub async fn participating_groups(&self) -> Result<Vec<WaChat>, GroupError> {
        let groups = self
            .client
            .groups()
            .get_participating()
            .await
            .map_err(|err| GroupError::Failed(err.to_string()))?;
        let mut chats: Vec<WaChat> = groups
            .keys()
            .filter_map(|jid| WaChat::parse(&jid.to_string()))
            .filter(WaChat::is_group)
            .collect();
        chats.sort();
        Ok(chats)
    }

    /// Reads the account's contacts (the phone's address book) from WhatsApp again, in
    /// full; each one comes back as a `ContactName` event.
    pub async fn resync_contacts(&self) {
        use wacore::appstate::patch_decode::WAPatchName;
        use whatsapp_rust::sync_task::MajorSyncTask;
        self.client
            .process_sync_task(MajorSyncTask::AppStateSync {
                name: WAPatchName::CriticalUnblockLow,
                full_sync: true,
            })
            .await;
    }

    /// Sends the account's own phone a peer request that an online phone answers (an
    /// on-demand history request for one message of the owner's own chat), so a phone
    /// that is merely idle is heard from again.
    pub async fn ping_phone(&self, own: &PhoneNumber, now_ms: i64) -> Result<(), SendError> {
        let jid = library_jid(&WaUser::from_phone(own).jid())?;
        self.client
            .fetch_message_history(&jid, "", false, now_ms, 1)
            .await
            .map(drop)
            .map_err(|err| SendError::Refused(err.to_string()))
    }

    /// Asks the phone for up to `count` messages of `chat` older than the given one; the
    /// answer comes later, as an on-demand history payload.
    pub async fn request_older(
        &self,
        chat: &WaChat,
        oldest_id: &str,
        oldest_from_me: bool,
        oldest_ms: i64,
        count: i32,
    ) -> Result<(), SendError> {
        let jid = library_jid(&chat.jid())?;
        self.client
            .fetch_message_history(&jid, oldest_id, oldest_from_me, oldest_ms, count)
            .await
            .map(drop)
            .map_err(|err| SendError::Refused(err.to_string()))
    }

    /// Whether the number has a WhatsApp account.
    pub async fn is_on_whatsapp(&self, phone: &PhoneNumber) -> Result<bool, SendError> {
        let jid = library_jid(&WaUser::from_phone(phone).jid())?;
        let answers = self
            .client
            .contacts()
            .is_on_whatsapp(std::slice::from_ref(&jid))
            .await
            .map_err(|err| SendError::Refused(err.to_string()))?;
        Ok(answers
            .iter()
            .any(|answer| answer.is_registered && answer.jid.user == jid.user))
    }

    /// The person's current profile picture; None when they have none (or hide it).
    pub async fn profile_picture(&self, user: &WaUser) -> Result<Option<ProfilePhoto>, MediaError> {
        self.picture_of(&user.jid()).await
    }

    /// The group's current picture; None when it has none.
    pub async fn group_picture(&self, group: &WaChat) -> Result<Option<ProfilePhoto>, MediaError> {
        self.picture_of(&group.jid()).await
    }

    async fn picture_of(&self, jid: &str) -> Result<Option<ProfilePhoto>, MediaError> {
        let jid: whatsapp_rust::Jid = jid
            .parse()
            .map_err(|_| MediaError::Download(format!("not a WhatsApp address: {jid}")))?;
        let picture = match self
            .client
            .contacts()
            .get_profile_picture(&jid, false)
            .await
        {
            Ok(Some(picture)) => picture,
            Ok(None) => return Ok(None),
            Err(err) => return Err(MediaError::Download(err.to_string())),
        };
        let response = self
            .client
            .http_client
            .execute(wacore::net::HttpRequest::get(picture.url.clone()))
            .await
            .map_err(|err| MediaError::Download(err.to_string()))?;
        if response.status_code != 200 || response.body.is_empty() {
            return Err(MediaError::Download(format!(
                "the picture server answered {}",
                response.status_code
            )));
        }
        Ok(Some(ProfilePhoto {
            id: picture.id,
            jpeg: response.body,
        }))
    }

    /// Encrypts and uploads a file for a message to point at.
    pub async fn upload(&self, bytes: Vec<u8>, kind: UploadKind) -> Result<Uploaded, MediaError> {
        use wacore::download::MediaType;
        let media_type = match kind {
            UploadKind::Image => MediaType::Image,
            UploadKind::Video => MediaType::Video,
            UploadKind::Audio => MediaType::Audio,
            UploadKind::Document => MediaType::Document,
            UploadKind::Sticker => MediaType::Sticker,
        };
        let response = self
            .client
            .upload(bytes, media_type, Default::default())
            .await
            .map_err(|err| MediaError::Upload(err.to_string()))?;
        Ok(Uploaded {
            url: response.url,
            direct_path: response.direct_path,
            media_key: response.media_key.to_vec(),
            file_sha256: response.file_sha256.to_vec(),
            file_enc_sha256: response.file_enc_sha256.to_vec(),
            file_length: response.file_length,
        })
    }

    /// Tells the senders their messages were read. In a group each message's sender is
    /// named, so the caller passes one sender's messages at a time.
    pub async fn mark_read(
        &self,
        chat: &WaChat,
        sender: Option<&WaUser>,
        message_ids: &[String],
    ) -> Result<(), SendError> {
        let jid = library_jid(&chat.jid())?;
        let sender = sender.map(|user| library_jid(&user.jid())).transpose()?;
        let ids: Vec<&str> = message_ids.iter().map(String::as_str).collect();
        self.client
            .mark_as_read(&jid, sender.as_ref(), &ids)
            .await
            .map_err(|err| SendError::Refused(err.to_string()))
    }

    /// Shows the account typing in `chat`, or stops showing it.
    pub async fn set_typing(&self, chat: &WaChat, typing: bool) -> Result<(), SendError> {
        let jid = library_jid(&chat.jid())?;
        let chatstate = self.client.chatstate();
        let sent = if typing {
            chatstate.send_composing(&jid).await
        } else {
            chatstate.send_paused(&jid).await
        };
        sent.map_err(|err| SendError::Refused(err.to_string()))
    }

    /// Sends `message` to `chat` under the given message ID (derived by the caller from
    /// what it bridges, so a repeat after a crash is the same WhatsApp message).
    pub async fn send(
        &self,
        chat: &WaChat,
        message: OutgoingMessage,
        message_id: &str,
    ) -> Result<(), SendError> {
        let jid = library_jid(&chat.jid())?;
        let options = whatsapp_rust::SendOptions::default().with_message_id(message_id);
        self.client
            .send_message_with_options(jid, message.0, options)
            .await
            .map(drop)
            .map_err(|err| SendError::Refused(err.to_string()))
    }
}

fn library_jid(jid: &str) -> Result<whatsapp_rust::Jid, SendError> {
    jid.parse().map_err(|_| SendError::BadChat(jid.to_owned()))
}

pub struct Session {
    client: Arc<Client>,
    handle: BotHandle,
}

impl Session {
    /// Connects (linking first if the store holds no account). With `pair_code_for`,
    /// linking uses a pairing code for that number instead of QR codes.
    pub async fn start(
        store: WaStore,
        inbox: Inbox,
        settings: &SessionSettings,
        link: Linking<'_>,
        events: mpsc::UnboundedSender<SessionEvent>,
    ) -> Result<Self, SessionError> {
        let pair_code_for = match link {
            Linking::PairCode(phone) => Some(phone),
            Linking::Qr | Linking::Resume(_) => None,
        };
        let client_cell = Arc::new(std::sync::OnceLock::new());
        let mut device = DevicePropsOverride::new();
        device.os = Some(settings.device_name.clone());
        let device = device.with_require_full_sync(settings.request_full_sync);
        let mut builder = Bot::builder()
            .with_backend(store)
            .with_transport_factory(NoDelayTransportFactory::new(settings.websocket_url.clone()))
            .with_http_client(UreqHttpClient::new())
            .with_runtime(TokioRuntime)
            .with_event_handler(Forwarder {
                events,
                inbox: inbox.clone(),
                client: client_cell.clone(),
                history: HistoryStore::new(inbox.db().clone(), inbox.device_id()),
            })
            .with_inbound_durability_hook(InboxHook(inbox))
            .with_device_props(device);
        if let Some(version) = settings.version {
            builder = builder.with_version(version);
        }
        if let Some(phone) = pair_code_for {
            builder = builder.with_pair_code(PairCodeOptions {
                phone_number: phone.digits().to_owned(),
                show_push_notification: true,
                ..PairCodeOptions::default()
            });
        }
        let bot = builder
            .build()
            .await
            .map_err(|err| SessionError(err.to_string()))?;
        let client = bot.client();
        // Set once, before the bot runs: nothing else sets it.
        let _ = client_cell.set(client.clone());
        let handle = bot.spawn();
        Ok(Self { client, handle })
    }

    pub fn is_connected(&self) -> bool {
        self.client.is_connected()
    }

    /// A handle that sends on this session (cheap to clone, usable while the session runs).
    pub fn sender(&self) -> SessionSender {
        SessionSender {
            client: self.client.clone(),
        }
    }

    /// Unlinks this device on WhatsApp (best effort when offline) and disconnects.
    pub async fn logout(self) {
        self.client.logout().await;
        self.handle.shutdown().await;
    }

    /// Disconnects, keeping the link: the next start resumes without a new QR code.
    pub async fn stop(self) {
        self.client.disconnect().await;
        self.handle.shutdown().await;
    }
}
