//! Prekey count queries and uploads, per logged-in device.

use super::{Action, Session};
use crate::node::{iq_error, iq_reply, iq_result};
use crate::prekeys::parse_upload;
use crate::state::ServerEvent;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};

impl Session {
    fn device_key(&self) -> String {
        self.jid.as_ref().map(Jid::to_string).unwrap_or_default()
    }

    pub(super) fn prekey_count(&self, id: &str) -> Node {
        let count: usize = self
            .shared
            .state()
            .prekeys
            .get(&self.device_key())
            .map(|uploads| uploads.iter().map(|upload| upload.prekey_ids.len()).sum())
            .unwrap_or(0);
        iq_reply(id, "result")
            .children([NodeBuilder::new("count")
                .attr("value", count.to_string())
                .build()])
            .build()
    }

    pub(super) fn store_prekeys(&self, id: &str, node: &Node) -> Vec<Action> {
        let Some(jid) = self.jid.clone() else {
            return vec![Action::Send(iq_error(id, 401, "not-authorized"))];
        };
        let upload = parse_upload(node);
        let count = upload.prekey_ids.len();
        self.shared
            .state()
            .prekeys
            .entry(self.device_key())
            .or_default()
            .push(upload);
        self.shared
            .emit(ServerEvent::PrekeysUploaded { jid, count });
        vec![Action::Send(iq_result(id))]
    }
}
