//! Scripted bad news: the ways WhatsApp turns a client away.

use crate::node::{server_jid, stream_error};
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

/// Temporary-ban fields: WhatsApp's ban code and seconds until it lifts.
const TEMP_BAN_CODE: &str = "101";
const TEMP_BAN_EXPIRE_SECS: &str = "3600";

/// `<failure reason=N/>` in answer to a login payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginFailure {
    /// 401: the device was logged out.
    LoggedOut,
    /// 402: temporary ban (carries a ban code and an expiry).
    TemporaryBan,
    /// 403: the main device is gone (whatsmeow's name; WA Web and whatsapp-rust
    /// call it "account locked"). Every client treats it as a logout.
    MainDeviceGone,
    /// 405: the client version is too old.
    ClientOutdated,
    /// 503: service unavailable; clients retry.
    ServiceUnavailable,
}

impl LoginFailure {
    pub fn reason(self) -> u16 {
        match self {
            Self::LoggedOut => 401,
            Self::TemporaryBan => 402,
            Self::MainDeviceGone => 403,
            Self::ClientOutdated => 405,
            Self::ServiceUnavailable => 503,
        }
    }

    /// A refusal that unlinks the device: the server forgets it.
    pub fn unlinks(self) -> bool {
        matches!(self, Self::LoggedOut | Self::MainDeviceGone)
    }

    pub(crate) fn node(self) -> Node {
        let builder = NodeBuilder::new("failure")
            .attr("reason", self.reason().to_string())
            .attr("location", "fake");
        match self {
            Self::TemporaryBan => builder
                .attr("code", TEMP_BAN_CODE)
                .attr("expire", TEMP_BAN_EXPIRE_SECS),
            _ => builder,
        }
        .build()
    }
}

/// A `<stream:error>` that ends a live connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// `code=503`: clients reconnect.
    ServiceUnavailable,
    /// `code=401` + `<conflict type="device_removed"/>`: unlinked from the phone.
    DeviceRemoved,
    /// `<conflict type="replaced"/>`: another connection took over.
    Replaced,
}

impl StreamEnd {
    pub fn unlinks(self) -> bool {
        matches!(self, Self::DeviceRemoved)
    }

    pub(crate) fn node(self) -> Node {
        match self {
            Self::ServiceUnavailable => stream_error(503),
            Self::DeviceRemoved => NodeBuilder::new("stream:error")
                .attr("code", "401")
                .children([conflict("device_removed")])
                .build(),
            Self::Replaced => NodeBuilder::new("stream:error")
                .children([conflict("replaced")])
                .build(),
        }
    }
}

fn conflict(kind: &'static str) -> Node {
    NodeBuilder::new("conflict")
        .attr("type", kind)
        .attr("from", server_jid())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{attr, child};

    #[test]
    fn temporary_ban_carries_code_and_expiry() {
        let node = LoginFailure::TemporaryBan.node();
        assert_eq!(attr(&node, "reason").as_deref(), Some("402"));
        assert_eq!(attr(&node, "code").as_deref(), Some(TEMP_BAN_CODE));
        assert!(attr(&node, "expire").is_some());
        assert_eq!(attr(&LoginFailure::ClientOutdated.node(), "expire"), None);
    }

    #[test]
    fn conflicts_name_their_type() {
        let removed = StreamEnd::DeviceRemoved.node();
        assert_eq!(attr(&removed, "code").as_deref(), Some("401"));
        let conflict_type = child(&removed, "conflict").and_then(|c| attr(c, "type"));
        assert_eq!(conflict_type.as_deref(), Some("device_removed"));
        let replaced = StreamEnd::Replaced.node();
        assert_eq!(attr(&replaced, "code"), None);
        assert!(child(&replaced, "conflict").is_some());
    }
}
