//! What a companion says about stanzas it got: `<ack>` and `<receipt>`
//! clear them from its delivery queue; a retry receipt gets the message
//! encrypted again; receipts for other people's messages (read, played) are
//! reported to the test.

use super::{Action, Session};
use crate::node::{attr, bytes, child, jid_attr};
use crate::outbound;
use crate::signal::{
    WireBundle,
    bundle::{be_uint, key32},
};
use crate::state::ServerEvent;
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

/// The message id plus any `<list><item id/>` ids.
fn receipt_ids(node: &Node) -> Vec<String> {
    let mut ids: Vec<String> = attr(node, "id").into_iter().collect();
    if let Some(list) = child(node, "list") {
        ids.extend(
            list.get_children_by_tag("item")
                .filter_map(|item| attr(item, "id")),
        );
    }
    ids
}

/// The key bundle a retry receipt may carry (`<registration>` + `<keys>`).
fn bundle_in_retry(node: &Node) -> Option<WireBundle> {
    let keys = child(node, "keys")?;
    let registration_id = child(node, "registration")
        .and_then(bytes)
        .and_then(be_uint)?;
    let identity = child(keys, "identity").and_then(bytes).and_then(key32)?;
    let skey = child(keys, "skey")?;
    let prekey = child(keys, "key").and_then(|key| {
        let id = child(key, "id").and_then(bytes).and_then(be_uint)?;
        let value = child(key, "value").and_then(bytes).and_then(key32)?;
        Some((id, value))
    });
    Some(WireBundle {
        registration_id,
        identity,
        signed_prekey_id: child(skey, "id").and_then(bytes).and_then(be_uint)?,
        signed_prekey: child(skey, "value").and_then(bytes).and_then(key32)?,
        signed_prekey_signature: child(skey, "signature").and_then(bytes)?.to_vec(),
        prekey,
    })
}

impl Session {
    pub(super) fn on_ack(&mut self, node: &Node) -> Vec<Action> {
        let Some(device) = self.jid.clone() else {
            return Vec::new();
        };
        let class = attr(node, "class").unwrap_or_default();
        let ids = receipt_ids(node);
        let cleared = self
            .shared
            .state()
            .delivery
            .acknowledge(&device, &class, &ids);
        if cleared > 0 {
            self.shared.emit(ServerEvent::Acknowledged {
                device,
                class,
                ids,
                error: attr(node, "error"),
            });
        }
        Vec::new()
    }

    pub(super) fn on_receipt(&mut self, node: &Node) -> Vec<Action> {
        let Some(device) = self.jid.clone() else {
            return Vec::new();
        };
        let ids = receipt_ids(node);
        let kind = attr(node, "type");
        let to = jid_attr(node, "to");
        if kind.as_deref() == Some("retry") {
            self.on_retry(&device, node, &ids);
        } else {
            let cleared = self.shared.state().delivery.delivered(&device, &ids);
            if cleared > 0 {
                self.shared.emit(ServerEvent::Acknowledged {
                    device: device.clone(),
                    class: "message".into(),
                    ids: ids.clone(),
                    error: None,
                });
            }
            self.shared.emit(ServerEvent::ClientReceipt {
                device,
                to,
                participant: jid_attr(node, "participant"),
                ids: ids.clone(),
                kind,
            });
        }
        // WhatsApp acknowledges every receipt.
        let mut ack = NodeBuilder::new("ack")
            .attr("class", "receipt")
            .attr("id", ids.first().cloned().unwrap_or_default());
        if let Some(kind) = attr(node, "type") {
            ack = ack.attr("type", kind);
        }
        if let Some(to) = jid_attr(node, "to") {
            ack = ack.attr("from", to);
        }
        vec![Action::Send(ack.build())]
    }

    fn on_retry(&mut self, device: &wacore_binary::Jid, node: &Node, ids: &[String]) {
        let count = child(node, "retry")
            .and_then(|retry| attr(retry, "count"))
            .and_then(|count| count.parse::<u32>().ok())
            .unwrap_or(1);
        let bundle = bundle_in_retry(node);
        for id in ids {
            self.shared.emit(ServerEvent::RetryRequested {
                device: device.clone(),
                id: id.clone(),
                count,
            });
            let outcome = {
                let mut state = self.shared.state();
                match state.device(device.user.as_str(), device.device).cloned() {
                    Some(record) if state.retries_held => {
                        state.held_retries.push(crate::state::HeldRetry {
                            device: record,
                            id: id.clone(),
                            count,
                            bundle: bundle.clone(),
                        });
                        Ok(())
                    }
                    Some(record) => {
                        outbound::resend(&mut state, &record, id, count, bundle.clone())
                    }
                    None => Ok(()),
                }
            };
            if let Err(err) = outcome {
                log::info!("conn {}: cannot resend {id}: {err}", self.conn);
            }
        }
    }
}
