//! Starting a login from any front-end: one flow per key, run as its own task.

use super::driver::{self, LoginRequest};
use super::{AlreadyInProgress, FlowHandle, FlowKey, FlowOrigin, LoginFrontEnd};
use crate::bridge::Bridge;

impl Bridge {
    /// Starts `request`'s flow under `origin`; the handle follows and steers it.
    pub fn start_login<F: LoginFrontEnd + 'static>(
        &self,
        request: LoginRequest,
        origin: FlowOrigin,
        front: F,
    ) -> Result<FlowHandle, AlreadyInProgress> {
        let key = FlowKey {
            user: request.user.clone(),
            origin,
        };
        let (slot, channels, handle) =
            self.flows
                .begin(key, request.method, request.phone.clone())?;
        tokio::spawn(driver::run(self.clone(), request, slot, channels, front));
        Ok(handle)
    }

    /// The running flow of `key`, if any.
    pub fn login_flow(&self, key: &FlowKey) -> Option<FlowHandle> {
        self.flows.get(key)
    }
}
