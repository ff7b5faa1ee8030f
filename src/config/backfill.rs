use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Docs};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackfillConfig {
    pub enabled: bool,
    pub max_initial_messages: u32,
    pub max_catchup_messages: u32,
    pub unread_hours_threshold: u32,
}

impl Default for BackfillConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            max_initial_messages: 50,
            max_catchup_messages: 500,
            unread_hours_threshold: 720,
        }
    }
}

pub(super) const DOCS: Docs = &[
    (
        "",
        "Backfill: WhatsApp history copied into Matrix rooms. Set these before logging in.",
    ),
    ("enabled", "Copy history into portal rooms at all."),
    (
        "max_initial_messages",
        "How many of the newest messages go into a freshly created portal room.",
    ),
    (
        "max_catchup_messages",
        "How many of the messages that came while the bridge was offline each chat shows (the newest); the others stay stored for `more-history`.",
    ),
    (
        "unread_hours_threshold",
        "Chats with no message for this many hours are marked as read when their room is created.",
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HistorySyncConfig {
    pub max_initial_conversations: i32,
    pub request_full_sync: bool,
    #[serde(with = "super::duration")]
    pub dispatch_wait: Duration,
    pub max_stored_messages_per_chat: i32,
}

impl Default for HistorySyncConfig {
    fn default() -> Self {
        Self {
            max_initial_conversations: -1,
            request_full_sync: false,
            dispatch_wait: Duration::from_secs(60),
            max_stored_messages_per_chat: -1,
        }
    }
}

pub(super) const HISTORY_SYNC_DOCS: Docs = &[
    (
        "",
        "History sync: what the phone sends the bridge after login.",
    ),
    (
        "max_initial_conversations",
        "How many of the most recent chats get a portal room after login; -1 means every chat.",
    ),
    (
        "request_full_sync",
        "Ask the phone for its full history (about a year) instead of the recent months.",
    ),
    (
        "dispatch_wait",
        "Portal rooms are created once the phone has sent no history for this long.",
    ),
    (
        "max_stored_messages_per_chat",
        "History is kept after backfill, for `more-history`; this keeps only the newest messages of each chat. -1 keeps everything.",
    ),
];

impl HistorySyncConfig {
    pub(super) fn validate(&self, errors: &mut Vec<ConfigError>) {
        if self.max_initial_conversations < -1 {
            errors.push(ConfigError::invalid(
                "history_sync.max_initial_conversations",
                "must be -1 (every chat), 0 or a positive number",
            ));
        }
        if self.max_stored_messages_per_chat < -1 {
            errors.push(ConfigError::invalid(
                "history_sync.max_stored_messages_per_chat",
                "must be -1 (keep everything), 0 or a positive number",
            ));
        }
        if self.dispatch_wait.is_zero() {
            errors.push(ConfigError::invalid(
                "history_sync.dispatch_wait",
                "must be longer than 0s (the phone sends its history in several parts)",
            ));
        }
    }
}
