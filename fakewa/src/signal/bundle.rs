//! Prekey bundles as the wire carries them, for the simulated devices and
//! for the real companions (from what they uploaded).

use crate::error::{FakeWaError, Result};
use crate::node::{bytes, child};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::{DeviceId, IdentityKey, PreKeyBundle, PublicKey};

/// Signal's key type byte for Curve25519, as `<type>` carries it.
const DJB_TYPE: u8 = 5;

/// One device's public keys: what a sender needs to start a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WireBundle {
    pub registration_id: u32,
    pub identity: [u8; 32],
    pub signed_prekey_id: u32,
    pub signed_prekey: [u8; 32],
    pub signed_prekey_signature: Vec<u8>,
    pub prekey: Option<(u32, [u8; 32])>,
}

impl WireBundle {
    pub fn to_library(&self, device: u16) -> Result<PreKeyBundle> {
        let key = |bytes: &[u8; 32]| PublicKey::from_djb_public_key_bytes(bytes);
        let prekey = match &self.prekey {
            Some((id, public)) => Some(((*id).into(), key(public)?)),
            None => None,
        };
        PreKeyBundle::new(
            self.registration_id,
            DeviceId::from(u32::from(device)),
            prekey,
            self.signed_prekey_id.into(),
            key(&self.signed_prekey)?,
            self.signed_prekey_signature.clone(),
            IdentityKey::new(key(&self.identity)?),
        )
        .map_err(|err| FakeWaError::Signal(err.to_string()))
    }

    /// `<user jid=…><registration/><type/><identity/><skey/><key/></user>`.
    pub fn to_node(&self, jid: &Jid) -> Node {
        let mut children = vec![
            NodeBuilder::new("registration")
                .bytes(self.registration_id.to_be_bytes().to_vec())
                .build(),
            NodeBuilder::new("type").bytes(vec![DJB_TYPE]).build(),
            NodeBuilder::new("identity")
                .bytes(self.identity.to_vec())
                .build(),
        ];
        if let Some((id, public)) = &self.prekey {
            children.push(
                NodeBuilder::new("key")
                    .children([id_node(*id), value_node(public)])
                    .build(),
            );
        }
        children.push(
            NodeBuilder::new("skey")
                .children([
                    id_node(self.signed_prekey_id),
                    value_node(&self.signed_prekey),
                    NodeBuilder::new("signature")
                        .bytes(self.signed_prekey_signature.clone())
                        .build(),
                ])
                .build(),
        );
        NodeBuilder::new("user")
            .attr("jid", jid.clone())
            .children(children)
            .build()
    }
}

fn id_node(id: u32) -> Node {
    NodeBuilder::new("id")
        .bytes(id.to_be_bytes()[1..].to_vec())
        .build()
}

fn value_node(key: &[u8; 32]) -> Node {
    NodeBuilder::new("value").bytes(key.to_vec()).build()
}

/// What a real companion uploaded: its identity, signed prekey and the
/// one-time prekeys nobody has taken yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct CompanionKeys {
    pub registration_id: u32,
    pub identity: Option<[u8; 32]>,
    pub signed_prekey: Option<(u32, [u8; 32], Vec<u8>)>,
    pub prekeys: std::collections::VecDeque<(u32, [u8; 32])>,
}

impl CompanionKeys {
    /// Merges one `<iq xmlns="encrypt" type="set">` upload.
    pub fn absorb(&mut self, iq: &Node) {
        if let Some(id) = child(iq, "registration").and_then(bytes).and_then(be_uint) {
            self.registration_id = id;
        }
        if let Some(identity) = child(iq, "identity").and_then(bytes).and_then(key32) {
            self.identity = Some(identity);
        }
        if let Some(skey) = child(iq, "skey") {
            let id = child(skey, "id").and_then(bytes).and_then(be_uint);
            let value = child(skey, "value").and_then(bytes).and_then(key32);
            let signature = child(skey, "signature").and_then(bytes);
            if let (Some(id), Some(value), Some(signature)) = (id, value, signature) {
                self.signed_prekey = Some((id, value, signature.to_vec()));
            }
        }
        if let Some(list) = child(iq, "list") {
            for key in list.get_children_by_tag("key") {
                let id = child(key, "id").and_then(bytes).and_then(be_uint);
                let value = child(key, "value").and_then(bytes).and_then(key32);
                if let (Some(id), Some(value)) = (id, value) {
                    self.prekeys.push_back((id, value));
                }
            }
        }
    }

    /// A bundle with the next unused one-time prekey, which is then gone, as
    /// on WhatsApp's servers (the last ones run out and bundles come without).
    pub fn take_bundle(&mut self) -> Option<WireBundle> {
        let identity = self.identity?;
        let (signed_prekey_id, signed_prekey, signature) = self.signed_prekey.clone()?;
        Some(WireBundle {
            registration_id: self.registration_id,
            identity,
            signed_prekey_id,
            signed_prekey,
            signed_prekey_signature: signature,
            prekey: self.prekeys.pop_front(),
        })
    }

    pub fn unused_prekeys(&self) -> usize {
        self.prekeys.len()
    }
}

/// Big-endian integer of up to 4 bytes (ids are 3 bytes, registration 4).
pub(crate) fn be_uint(data: &[u8]) -> Option<u32> {
    if data.is_empty() || data.len() > 4 {
        return None;
    }
    Some(
        data.iter()
            .fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte)),
    )
}

/// A Curve25519 public key as the wire carries it: 32 bytes, or 33 with the
/// type byte in front.
pub(crate) fn key32(data: &[u8]) -> Option<[u8; 32]> {
    match data.len() {
        32 => data.try_into().ok(),
        33 if data[0] == DJB_TYPE => data[1..].try_into().ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_becomes_bundles_that_use_each_prekey_once() {
        let bundle = WireBundle {
            registration_id: 0x0102_0304,
            identity: [1; 32],
            signed_prekey_id: 7,
            signed_prekey: [2; 32],
            signed_prekey_signature: vec![3; 64],
            prekey: Some((0x01_0203, [4; 32])),
        };
        // A bundle node has the children of an upload, with the one-time
        // prekey where an upload has its list.
        let node = bundle.to_node(&Jid::pn("15550001111"));
        let mut upload: Vec<Node> = node
            .children()
            .map(|children| {
                children
                    .iter()
                    .filter(|c| c.tag != "key")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let key = child(&node, "key").cloned();
        upload.push(NodeBuilder::new("list").children(key).build());
        let mut keys = CompanionKeys::default();
        keys.absorb(&NodeBuilder::new("iq").children(upload).build());
        assert_eq!(keys.unused_prekeys(), 1);
        assert_eq!(keys.take_bundle(), Some(bundle.clone()));
        let drained = keys.take_bundle().map(|next| next.prekey);
        assert_eq!(drained, Some(None), "one-time prekeys are used once");
    }

    #[test]
    fn keys_with_or_without_the_type_byte() {
        assert_eq!(key32(&[9; 32]), Some([9; 32]));
        let mut typed = vec![5];
        typed.extend([9; 32]);
        assert_eq!(key32(&typed), Some([9; 32]));
        assert_eq!(key32(&[9; 31]), None);
        assert_eq!(be_uint(&[0, 1, 0]), Some(256));
        assert_eq!(be_uint(&[]), None);
    }
}
