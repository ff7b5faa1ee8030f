//! What the server holds for each linked companion until the companion
//! acknowledges it, as WhatsApp's offline queue does: a stanza for a device
//! that is offline waits for its next login; one that was sent but never
//! acknowledged is sent again at the next login.

use crate::state::{ConnCommand, ConnId};
use std::collections::HashMap;
use tokio::sync::mpsc;
use wacore_binary::{Jid, Node};

struct Outgoing {
    /// Which acknowledgement clears it: `message`, `receipt`, `notification`.
    class: String,
    id: String,
    node: Node,
    /// Acknowledgements to ignore: a client that asks for a resend with a
    /// retry receipt also acks the original, which must not clear the resend.
    acks_to_skip: u8,
}

struct Live {
    conn: ConnId,
    commands: mpsc::UnboundedSender<ConnCommand>,
}

#[derive(Default)]
pub(crate) struct Delivery {
    pending: HashMap<String, Vec<Outgoing>>,
    live: HashMap<String, Live>,
}

/// The queue key of a device: its phone-number JID with the device part.
pub(crate) fn device_key(device: &Jid) -> String {
    Jid::pn_device(device.user.as_str(), device.device).to_string()
}

/// The acknowledgement class that clears a stanza with this tag.
fn class_of(node: &Node) -> String {
    node.tag.to_string()
}

impl Delivery {
    /// Queues a stanza for `device` and sends it at once if it is connected.
    pub fn enqueue(&mut self, device: &Jid, node: Node) {
        self.enqueue_with(device, node, 0);
    }

    /// Queues a resend that replaces what was queued under the same id.
    pub fn enqueue_resend(&mut self, device: &Jid, node: Node) {
        let key = device_key(device);
        let id = crate::node::attr(&node, "id").unwrap_or_default();
        let class = class_of(&node);
        if let Some(queue) = self.pending.get_mut(&key) {
            queue.retain(|item| !(item.id == id && item.class == class));
        }
        self.enqueue_with(device, node, 1);
    }

    fn enqueue_with(&mut self, device: &Jid, node: Node, acks_to_skip: u8) {
        let key = device_key(device);
        if let Some(live) = self.live.get(&key) {
            // A closed channel means the connection is ending; the stanza
            // stays queued for the next login.
            let _ = live.commands.send(ConnCommand::Send(node.clone()));
        }
        let id = crate::node::attr(&node, "id").unwrap_or_default();
        self.pending.entry(key).or_default().push(Outgoing {
            class: class_of(&node),
            id,
            node,
            acks_to_skip,
        });
    }

    /// Sends to `device` only if it is connected now (presence, chat states).
    pub fn send_if_live(&self, device: &Jid, node: Node) -> bool {
        self.live
            .get(&device_key(device))
            .is_some_and(|live| live.commands.send(ConnCommand::Send(node)).is_ok())
    }

    /// The device logged in on `conn`: later stanzas go straight to it, and
    /// everything still unacknowledged is returned to be sent first.
    pub fn go_live(
        &mut self,
        device: &Jid,
        conn: ConnId,
        commands: mpsc::UnboundedSender<ConnCommand>,
    ) -> Vec<Node> {
        let key = device_key(device);
        self.live.insert(key.clone(), Live { conn, commands });
        self.pending
            .get(&key)
            .map(|queue| queue.iter().map(|item| item.node.clone()).collect())
            .unwrap_or_default()
    }

    pub fn go_offline(&mut self, conn: ConnId) {
        self.live.retain(|_, live| live.conn != conn);
    }

    /// Clears what `device` acknowledged; returns how many stanzas it clears.
    pub fn acknowledge(&mut self, device: &Jid, class: &str, ids: &[String]) -> usize {
        let Some(queue) = self.pending.get_mut(&device_key(device)) else {
            return 0;
        };
        let before = queue.len();
        queue.retain_mut(|item| {
            if item.class != class || !ids.contains(&item.id) {
                return true;
            }
            if item.acks_to_skip > 0 {
                item.acks_to_skip -= 1;
                return true;
            }
            false
        });
        before - queue.len()
    }

    /// Clears a message for good, whatever acks it still expects (a
    /// receipt means it arrived).
    pub fn delivered(&mut self, device: &Jid, ids: &[String]) -> usize {
        let Some(queue) = self.pending.get_mut(&device_key(device)) else {
            return 0;
        };
        let before = queue.len();
        queue.retain(|item| !(item.class == "message" && ids.contains(&item.id)));
        before - queue.len()
    }

    /// Stanzas still waiting for `device`'s acknowledgement.
    pub fn pending(&self, device: &Jid) -> usize {
        self.pending.get(&device_key(device)).map_or(0, Vec::len)
    }

    /// The device was unlinked: nothing more is kept for it.
    pub fn forget(&mut self, device: &Jid) {
        let key = device_key(device);
        self.pending.remove(&key);
        self.live.remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wacore_binary::builder::NodeBuilder;

    fn message(id: &str) -> Node {
        NodeBuilder::new("message").attr("id", id).build()
    }

    #[test]
    fn offline_stanzas_wait_and_acks_clear_them() {
        let mut delivery = Delivery::default();
        let device = Jid::pn_device("15550001234", 3);
        delivery.enqueue(&device, message("a"));
        delivery.enqueue(&device, message("b"));
        assert_eq!(delivery.pending(&device), 2);

        let (tx, mut rx) = mpsc::unbounded_channel();
        let flushed = delivery.go_live(&device, 7, tx);
        assert_eq!(flushed.len(), 2);
        delivery.enqueue(&device, message("c"));
        assert!(matches!(rx.try_recv(), Ok(ConnCommand::Send(_))));

        assert_eq!(delivery.acknowledge(&device, "receipt", &["a".into()]), 0);
        assert_eq!(delivery.acknowledge(&device, "message", &["a".into()]), 1);
        assert_eq!(delivery.delivered(&device, &["b".into(), "c".into()]), 2);
        assert_eq!(delivery.pending(&device), 0);

        delivery.go_offline(7);
        assert!(!delivery.send_if_live(&device, message("d")));
    }

    #[test]
    fn a_resend_survives_the_ack_of_the_original() {
        let mut delivery = Delivery::default();
        let device = Jid::pn_device("15550001234", 3);
        delivery.enqueue(&device, message("a"));
        delivery.enqueue_resend(&device, message("a"));
        assert_eq!(delivery.pending(&device), 1);
        assert_eq!(delivery.acknowledge(&device, "message", &["a".into()]), 0);
        assert_eq!(delivery.acknowledge(&device, "message", &["a".into()]), 1);
    }
}
