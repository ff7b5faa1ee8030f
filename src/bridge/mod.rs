//! The bridge core: owns the bot, logins and sessions (later portals and ghosts), and joins the Matrix
//! and WhatsApp sides. The only layer that knows both.

mod account;
mod avatars;
mod backfill;
mod bot;
mod calls;
mod captions;
mod catch_up;
mod chat_activity;
mod chat_locks;
pub mod commands;
pub mod connection;
mod contact_names;
pub mod devices;
mod double_puppet;
mod ghosts;
mod groups;
mod identities;
mod inbound;
pub mod login;
pub mod logins;
mod media;
mod mentions;
mod metrics_state;
mod outbound;
mod outbox;
mod phone_watch;
mod placeholders;
mod portals;
mod sending;
mod session_events;
mod sessions;
mod start_chat;
mod votes;

use std::sync::Arc;

use ruma::UserId;
use ruma::events::AnyTimelineEvent;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::matrix::appservice::ephemeral::EphemeralEvent;
use crate::matrix::appservice::{EventSink, RetryLater};
use crate::matrix::client::{HomeserverClient, HomeserverError};
use crate::matrix::ids::BridgeIds;
use crate::metrics::Metrics;
use crate::whatsapp::inbox::Inbox;
use crate::whatsapp::phone::PhoneNumber;
use crate::whatsapp::session::{Linking, Session, SessionSettings};
use crate::whatsapp::session_event::SessionEvent;
use crate::whatsapp::store::WaStore;
use login::LoginFlows;
use sessions::{Owner, Sessions};

/// The core. Cheap to clone: every part is shared, so a login can run as its own task.
/// How many stored logins start at once when the bridge starts.
const RESUME_AT_ONCE: usize = 32;

#[derive(Clone)]
pub struct Bridge {
    config: Arc<Config>,
    client: HomeserverClient,
    db: Db,
    ids: BridgeIds,
    clock: Arc<dyn Clock>,
    flows: Arc<LoginFlows<login::FlowKey>>,
    sessions: Arc<Sessions>,
    ghosts: Arc<ghosts::GhostCache>,
    typing: Arc<chat_activity::TypingRooms>,
    calls: Arc<calls::RingingCalls>,
    chat_locks: Arc<chat_locks::ChatLocks>,
    sending: Arc<sending::Sending>,
    outbox: Arc<outbox::Outboxes>,
    metrics: Arc<Metrics>,
}

impl Bridge {
    pub fn new(
        config: Arc<Config>,
        client: HomeserverClient,
        db: Db,
        ids: BridgeIds,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            config,
            client,
            db,
            ids,
            clock,
            flows: Arc::default(),
            sessions: Arc::default(),
            ghosts: Arc::default(),
            typing: Arc::default(),
            calls: Arc::default(),
            chat_locks: Arc::default(),
            sending: Arc::default(),
            outbox: Arc::default(),
            metrics,
        }
    }

    fn session_settings(&self) -> SessionSettings {
        let whatsapp = &self.config.whatsapp;
        SessionSettings {
            websocket_url: whatsapp.websocket_url.to_string(),
            version: whatsapp.version_parts(),
            device_name: whatsapp.device_name.clone(),
            request_full_sync: self.config.history_sync.request_full_sync,
        }
    }

    /// Reconnects every stored login, without a new QR code.
    pub async fn resume_sessions(&self) -> Result<usize, BridgeError> {
        use futures_util::StreamExt;
        let logins = self.db.all_logins().await?;
        // Side by side: each start mostly waits (its stored state, the connection), so
        // a thousand logins one after another took 18 s (docs/benchmarks.md).
        let resumed = futures_util::stream::iter(logins)
            .map(|login| async move {
                let Ok(phone) = PhoneNumber::parse(&login.phone) else {
                    tracing::warn!(
                        device_id = login.device_id,
                        "a stored login has no readable phone number"
                    );
                    return false;
                };
                let owner = Owner {
                    user: login.user_id.clone(),
                    phone,
                };
                match self
                    .start_session(login.device_id, owner, login.phone_last_seen_ms)
                    .await
                {
                    Ok(()) => true,
                    Err(err) => {
                        tracing::warn!(device_id = login.device_id, error = %err, "could not resume a login");
                        false
                    }
                }
            })
            .buffer_unordered(RESUME_AT_ONCE)
            .filter(|resumed| std::future::ready(*resumed))
            .count()
            .await;
        Ok(resumed)
    }

    /// Starts (or restarts) the session of a linked device from its stored keys.
    async fn start_session(
        &self,
        device_id: i32,
        owner: Owner,
        phone_seen_ms: Option<i64>,
    ) -> Result<(), crate::whatsapp::session::SessionError> {
        let store = WaStore::open(self.db.clone(), device_id, self.clock.clone());
        let inbox = Inbox::new(self.db.clone(), device_id);
        let (events_tx, events) = tokio::sync::mpsc::unbounded_channel();
        let session = Session::start(
            store,
            inbox,
            &self.session_settings(),
            Linking::Resume(&owner.phone),
            events_tx,
        )
        .await?;
        self.follow(device_id, owner, session, events, phone_seen_ms)
            .await;
        Ok(())
    }

    /// Keeps a session running and follows its events (notices, unlinking).
    async fn follow(
        &self,
        device_id: i32,
        owner: Owner,
        session: Session,
        events: tokio::sync::mpsc::UnboundedReceiver<SessionEvent>,
        phone_seen_ms: Option<i64>,
    ) {
        let (connection, previous) = self.sessions.insert(device_id, session, phone_seen_ms);
        if let Some(previous) = previous {
            previous.stop().await;
        }
        let pump = inbound::start(self.clone(), device_id, owner.clone());
        outbox::start(self.clone(), device_id);
        let group_changes = groups::start(self.clone(), device_id, owner.clone());
        let history = backfill::start(self.clone(), device_id, owner.clone());
        tokio::spawn(session_events::follow(
            self.clone(),
            device_id,
            owner,
            connection,
            events,
            session_events::Followers {
                inbox_arrivals: pump.arrivals,
                caught_up: pump.caught_up,
                group_changes,
                history,
            },
        ));
    }

    /// Stops every session cleanly: the library writes its state (Signal sessions and
    /// sender keys of what it already acknowledged) before the database closes.
    pub async fn stop_sessions(&self) {
        for session in self.sessions.take_all() {
            session.stop().await;
        }
    }

    /// Registers the bot and sets its profile from the config.
    pub async fn prepare_bot(&self) -> Result<(), HomeserverError> {
        let bot = self.ids.bot();
        self.client.ensure_registered(bot).await?;
        self.client
            .set_display_name(bot, &self.config.appservice.bot.displayname)
            .await?;
        let avatar = &self.config.appservice.bot.avatar;
        if !avatar.is_empty() {
            self.client.set_avatar(bot, avatar.as_str().into()).await?;
        }
        Ok(())
    }
}

impl EventSink for Bridge {
    async fn handle_event(&self, event: AnyTimelineEvent, json: &str) -> Result<(), RetryLater> {
        let result = bot::handle(self, &event, json).await;
        match result {
            Ok(()) => Ok(()),
            Err(BridgeError::Homeserver(err)) if is_transient(&err) => {
                Err(RetryLater(err.to_string()))
            }
            Err(err) => {
                // Retrying cannot fix it (the room is gone, the bot was kicked, …).
                tracing::warn!(event_id = %event.event_id(), error = %err, "could not act on a Matrix event");
                Ok(())
            }
        }
    }

    async fn handle_ephemeral(&self, event: EphemeralEvent) {
        let result = match &event {
            EphemeralEvent::Read { room, user, event } => self.owner_read(room, user, event).await,
            EphemeralEvent::Typing { room, users } => self.typing_changed(room, users).await,
        };
        if let Err(err) = result {
            tracing::debug!(?event, error = %err, "could not pass a receipt or typing on to WhatsApp");
        }
    }

    async fn user_exists(&self, user: &UserId) -> bool {
        user == self.ids.bot()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error(transparent)]
    Homeserver(#[from] HomeserverError),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    QrImage(#[from] login::qr_image::QrImageError),
    #[error("{0}")]
    Identity(String),
    #[error("the WhatsApp account is not connected right now")]
    NotConnected,
    #[error("cannot render the metrics: {0}")]
    Metrics(#[from] std::fmt::Error),
}

/// Failures the homeserver may not have tomorrow: worth a retry of the whole transaction.
pub(crate) fn is_transient(err: &HomeserverError) -> bool {
    match err {
        HomeserverError::Unreachable { .. } => true,
        HomeserverError::Matrix {
            status, errcode, ..
        } => status.is_server_error() || errcode == "M_LIMIT_EXCEEDED",
        HomeserverError::BadResponse { .. } | HomeserverError::Build { .. } => false,
    }
}
