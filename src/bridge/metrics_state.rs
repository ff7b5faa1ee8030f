//! The standing figures of the metrics, read when Prometheus scrapes: logins by the
//! state of their session, and what waits in the inbox.

use super::connection::LinkState;
use super::{Bridge, BridgeError};
use crate::whatsapp::inbox::Inbox;

/// Every state a login can be in, as its metrics label.
const STATES: [&str; 9] = [
    "connecting",
    "connected",
    "reconnecting",
    "logged_out",
    "banned",
    "client_outdated",
    "replaced",
    "refused",
    "not_running",
];

fn label(state: Option<&LinkState>) -> &'static str {
    match state {
        Some(LinkState::Connecting) => "connecting",
        Some(LinkState::Connected) => "connected",
        Some(LinkState::Reconnecting { .. }) => "reconnecting",
        Some(LinkState::LoggedOut(_)) => "logged_out",
        Some(LinkState::TemporarilyBanned { .. }) => "banned",
        Some(LinkState::ClientOutdated) => "client_outdated",
        Some(LinkState::Replaced) => "replaced",
        Some(LinkState::Refused { .. }) => "refused",
        None => "not_running",
    }
}

impl Bridge {
    /// Brings the standing figures up to date and renders every metric.
    pub async fn render_metrics(&self) -> Result<String, BridgeError> {
        let logins = self.db.all_logins().await?;
        let mut counts: Vec<(&'static str, i64)> = STATES.iter().map(|state| (*state, 0)).collect();
        for login in logins {
            let state = label(self.sessions.state(login.device_id).as_ref());
            if let Some(count) = counts.iter_mut().find(|(name, _)| *name == state) {
                count.1 += 1;
            }
        }
        self.metrics.set_logins(&counts);
        self.metrics
            .set_inbox_waiting(Inbox::waiting_everywhere(&self.db).await?);
        self.metrics
            .set_outbox_waiting(self.db.outgoing_waiting().await?);
        let alive = tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks();
        self.metrics
            .set_tasks(i64::try_from(alive).unwrap_or(i64::MAX));
        Ok(self.metrics.render()?)
    }
}
