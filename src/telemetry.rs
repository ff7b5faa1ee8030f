//! Logging set-up, and the bridge's telemetry events: each event is logged from one place
//! so its name and fields stay the same everywhere.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingConfig};

pub fn init_logging(config: &LoggingConfig) -> anyhow::Result<()> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::builder().parse(directives)?,
        _ => EnvFilter::builder().parse(&config.level)?,
    };
    // Colours only for a person at a terminal, not in files, journals or container logs.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colours)
        .with_writer(std::io::stderr);
    let result = match config.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|err| anyhow::anyhow!("cannot set up logging: {err}"))
}

/// Typed telemetry events of the bridge.
#[derive(Debug)]
pub enum Event<'a> {
    TxnReceived {
        txn_id: &'a str,
        events: usize,
        ephemeral: usize,
    },
    TxnReplayed {
        txn_id: &'a str,
    },
    EventSkipped {
        event_id: &'a str,
        reason: &'a str,
    },
    MalformedEvent {
        txn_id: &'a str,
        error: &'a str,
    },
    CommandHandled {
        command: &'a str,
        sender: &'a str,
    },
    InviteRefused {
        sender: &'a str,
        room: &'a str,
    },
    HomeserverRetry {
        attempt: u32,
        reason: &'a str,
        wait_ms: u64,
    },
}

pub fn emit(event: Event<'_>) {
    match event {
        Event::TxnReceived {
            txn_id,
            events,
            ephemeral,
        } => {
            tracing::debug!(target: "telemetry", txn_id, events, ephemeral, "TxnReceived")
        }
        Event::TxnReplayed { txn_id } => {
            tracing::info!(target: "telemetry", txn_id, "TxnReplayed: already handled, answered without redoing")
        }
        Event::EventSkipped { event_id, reason } => {
            tracing::debug!(target: "telemetry", event_id, reason, "EventSkipped")
        }
        Event::MalformedEvent { txn_id, error } => {
            tracing::warn!(target: "telemetry", txn_id, error, "MalformedEvent: skipped an event the bridge cannot read")
        }
        Event::CommandHandled { command, sender } => {
            tracing::info!(target: "telemetry", command, sender, "CommandHandled")
        }
        Event::InviteRefused { sender, room } => {
            tracing::info!(target: "telemetry", sender, room, "InviteRefused: sender lacks permission")
        }
        Event::HomeserverRetry {
            attempt,
            reason,
            wait_ms,
        } => {
            tracing::warn!(target: "telemetry", attempt, reason, wait_ms, "HomeserverRetry")
        }
    }
}
