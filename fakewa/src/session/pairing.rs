//! The last step of pairing: the companion's counter-signature, then 515.

use super::{Action, STREAM_RESTART, Session};
use crate::node::{self, attr, bytes, child};
use crate::state::{DeviceRecord, PendingPair, ServerEvent};
use wacore_binary::Node;

impl Session {
    pub(super) fn on_iq_answer(&mut self, id: &str, kind: &str, node: &Node) -> Vec<Action> {
        let Some(pending) = self.pending_pair.take_if(|pending| pending.iq_id == id) else {
            return Vec::new();
        };
        let outcome = if kind == "error" {
            Err(format!("client refused pair-success: {node:?}"))
        } else {
            check_pair_device_sign(&pending, node)
        };
        match outcome {
            Ok(signed_identity) => {
                let mut device = pending.device;
                device.signed_identity = signed_identity;
                self.register_device(device);
                vec![
                    Action::Send(node::stream_error(STREAM_RESTART)),
                    Action::Hangup,
                ]
            }
            Err(reason) => {
                log::info!("conn {}: pairing failed: {reason}", self.conn);
                self.shared.emit(ServerEvent::PairingFailed {
                    conn: self.conn,
                    reason,
                });
                Vec::new()
            }
        }
    }

    fn register_device(&self, device: DeviceRecord) {
        let (jid, lid) = (device.jid.clone(), device.lid.clone());
        {
            let mut state = self.shared.state();
            state.devices.retain(|known| known.jid != device.jid);
            state.devices.push(device);
        }
        self.shared.emit(ServerEvent::Paired {
            conn: self.conn,
            jid,
            lid,
        });
    }
}

/// `<pair-device-sign><device-identity key-index=…>ADVSignedDeviceIdentity</…>`.
/// Returns the companion's countersigned identity.
fn check_pair_device_sign(
    pending: &PendingPair,
    iq: &Node,
) -> std::result::Result<Vec<u8>, String> {
    let identity = child(iq, "pair-device-sign")
        .and_then(|sign| child(sign, "device-identity"))
        .ok_or("pair-device-sign without device-identity")?;
    let key_index = attr(identity, "key-index").unwrap_or_default();
    if key_index != pending.voucher.key_index.to_string() {
        return Err(format!(
            "key-index {key_index:?}, expected {}",
            pending.voucher.key_index
        ));
    }
    let signed = bytes(identity).ok_or("empty device-identity")?;
    pending
        .voucher
        .check_companion_reply(signed)
        .map(|()| signed.to_vec())
        .map_err(|err| err.to_string())
}
