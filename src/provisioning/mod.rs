//! The HTTP front-ends of the login flows, served next to the appservice API:
//! the device API (`/devices`, HTTP Basic, `{code, message, results}`), the Matrix-style
//! provisioning API (`<prefix>/v3/…`, Bearer shared secret), and the login page. They
//! only know the bridge core (`bridge::devices`, `bridge::logins`, `bridge::login`).

mod basic_auth;
mod device_json;
mod devices;
mod envelope;
mod events;
mod page;
mod time;
mod v3;
mod v3_auth;
mod v3_steps;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use ruma::OwnedUserId;

use crate::bridge::Bridge;
use crate::bridge::login::FlowHandle;
use crate::config::ProvisioningConfig;

/// What the handlers share.
pub struct Provisioning {
    bridge: Arc<Bridge>,
    credentials: basic_auth::Credentials,
    shared_secret: v3_auth::SharedSecret,
    /// The last flow started per device, kept after it ends so a follower that comes
    /// late still learns how it ended.
    device_flows: Mutex<HashMap<(OwnedUserId, String), FlowHandle>>,
    processes: v3::Processes,
}

impl Provisioning {
    fn remember_device_flow(&self, user: &OwnedUserId, device_id: &str, flow: &FlowHandle) {
        self.device_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((user.clone(), device_id.to_owned()), flow.clone());
    }

    fn forget_device_flow(&self, user: &OwnedUserId, device_id: &str) {
        self.device_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(user.clone(), device_id.to_owned()));
    }

    /// The running flow of the device, or the last one that ran.
    fn device_flow(&self, user: &OwnedUserId, device_id: &str) -> Option<FlowHandle> {
        self.device_flows
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&(user.clone(), device_id.to_owned()))
            .cloned()
    }
}

/// The routes of both APIs and the page, to merge into the appservice server.
pub fn router(bridge: Arc<Bridge>, config: &ProvisioningConfig) -> Router {
    let state = Arc::new(Provisioning {
        bridge,
        credentials: basic_auth::Credentials::from_config(&config.device_api),
        shared_secret: v3_auth::SharedSecret::new(&config.shared_secret),
        device_flows: Mutex::default(),
        processes: v3::Processes::default(),
    });
    Router::new()
        .merge(devices::router(state.clone()))
        .merge(page::router(state.clone()))
        .nest(&config.prefix, v3::router(state))
}
