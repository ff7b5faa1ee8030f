//! The bridge core: owns the bot, (later) logins, portals and ghosts, and joins the Matrix
//! and WhatsApp sides. The only layer that knows both.

mod bot;
pub mod commands;
pub mod login;

use std::sync::Arc;

use ruma::UserId;
use ruma::events::AnyTimelineEvent;

use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::matrix::appservice::{EventSink, RetryLater};
use crate::matrix::client::{HomeserverClient, HomeserverError};
use crate::matrix::ids::BridgeIds;

pub struct Bridge {
    config: Arc<Config>,
    client: HomeserverClient,
    db: Db,
    ids: BridgeIds,
    clock: Arc<dyn Clock>,
}

impl Bridge {
    pub fn new(
        config: Arc<Config>,
        client: HomeserverClient,
        db: Db,
        ids: BridgeIds,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            config,
            client,
            db,
            ids,
            clock,
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
    async fn handle_event(&self, event: AnyTimelineEvent) -> Result<(), RetryLater> {
        let result = bot::handle(self, &event).await;
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
}

/// Failures the homeserver may not have tomorrow: worth a retry of the whole transaction.
fn is_transient(err: &HomeserverError) -> bool {
    match err {
        HomeserverError::Unreachable { .. } => true,
        HomeserverError::Matrix {
            status, errcode, ..
        } => status.is_server_error() || errcode == "M_LIMIT_EXCEEDED",
        HomeserverError::BadResponse { .. } | HomeserverError::Build { .. } => false,
    }
}
