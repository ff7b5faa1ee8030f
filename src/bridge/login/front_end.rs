//! Where a login flow shows itself. The chat front-end posts to the management room; the
//! HTTP front-ends read the flow's published progress, so theirs does nothing.

use std::future::Future;

use super::LoginUpdate;
use crate::bridge::BridgeError;

pub trait LoginFrontEnd: Send {
    /// Shows one update of the flow.
    fn show(
        &mut self,
        update: &LoginUpdate,
    ) -> impl Future<Output = Result<(), BridgeError>> + Send;

    /// Tells the person something outside the flow's updates (a number that does not
    /// parse, "a login is in progress").
    fn say(&mut self, text: &str) -> impl Future<Output = Result<(), BridgeError>> + Send;
}

/// For flows followed through their progress (the provisioning APIs): every update is
/// published there by the driver, and inputs are checked before they reach the flow.
pub struct FollowedFrontEnd;

impl LoginFrontEnd for FollowedFrontEnd {
    async fn show(&mut self, _update: &LoginUpdate) -> Result<(), BridgeError> {
        Ok(())
    }

    async fn say(&mut self, _text: &str) -> Result<(), BridgeError> {
        Ok(())
    }
}
