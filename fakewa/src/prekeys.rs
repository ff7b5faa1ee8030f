//! Reading a prekey upload: `<registration/><type/><identity/><list><key>…</key></list><skey/>`.

use crate::node::{bytes, child};
use crate::state::PrekeyUpload;
use wacore_binary::Node;

/// Big-endian integer of up to 4 bytes (ids are 3 bytes, registration 4).
fn be_uint(data: &[u8]) -> Option<u32> {
    if data.is_empty() || data.len() > 4 {
        return None;
    }
    Some(
        data.iter()
            .fold(0u32, |acc, byte| (acc << 8) | u32::from(*byte)),
    )
}

/// Missing or malformed parts become empty values rather than errors: the
/// upload is recorded as sent, and tests assert on what they expect in it.
pub fn parse_upload(iq: &Node) -> PrekeyUpload {
    let registration_id = child(iq, "registration")
        .and_then(bytes)
        .and_then(be_uint)
        .unwrap_or(0);
    let identity = child(iq, "identity")
        .and_then(bytes)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    let prekey_ids = child(iq, "list")
        .map(|list| {
            list.get_children_by_tag("key")
                .filter_map(|key| child(key, "id").and_then(bytes).and_then(be_uint))
                .collect()
        })
        .unwrap_or_default();
    let signed_prekey_id = child(iq, "skey")
        .and_then(|skey| child(skey, "id"))
        .and_then(bytes)
        .and_then(be_uint);
    PrekeyUpload {
        registration_id,
        identity,
        prekey_ids,
        signed_prekey_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wacore_binary::builder::NodeBuilder;

    #[test]
    fn reads_ids_registration_and_signed_key() {
        let key = |id: [u8; 3]| {
            NodeBuilder::new("key")
                .children([
                    NodeBuilder::new("id").bytes(id.to_vec()).build(),
                    NodeBuilder::new("value").bytes(vec![0u8; 32]).build(),
                ])
                .build()
        };
        let iq = NodeBuilder::new("iq")
            .children([
                NodeBuilder::new("registration")
                    .bytes(vec![0, 0, 1, 2])
                    .build(),
                NodeBuilder::new("identity").bytes(vec![5u8; 32]).build(),
                NodeBuilder::new("list")
                    .children([key([0, 0, 1]), key([0, 1, 0])])
                    .build(),
                NodeBuilder::new("skey")
                    .children([NodeBuilder::new("id").bytes(vec![0, 0, 9]).build()])
                    .build(),
            ])
            .build();
        let upload = parse_upload(&iq);
        assert_eq!(upload.registration_id, 258);
        assert_eq!(upload.identity, vec![5u8; 32]);
        assert_eq!(upload.prekey_ids, vec![1, 256]);
        assert_eq!(upload.signed_prekey_id, Some(9));
    }
}
