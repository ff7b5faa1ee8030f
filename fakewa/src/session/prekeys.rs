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
        // What is left on the server: uploaded and not yet taken by a sender.
        let count = self
            .shared
            .state()
            .device_keys
            .get(&self.device_key())
            .map_or(0, |keys| keys.unused_prekeys());
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
        let first_upload = {
            let mut state = self.shared.state();
            state
                .prekeys
                .entry(self.device_key())
                .or_default()
                .push(upload);
            let keys = state.device_keys.entry(self.device_key());
            let first = matches!(keys, std::collections::hash_map::Entry::Vacant(_));
            keys.or_default().absorb(node);
            first
        };
        self.shared.emit(ServerEvent::PrekeysUploaded {
            jid: jid.clone(),
            count,
        });
        if first_upload {
            // Now the phone can reach the new companion, it does what a
            // real phone does for a new device.
            crate::phone::welcome(&self.shared, &jid);
        }
        vec![Action::Send(iq_result(id))]
    }
}
