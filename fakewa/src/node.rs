//! Binary XMPP-like nodes on the wire (via `wacore-binary`) and the few
//! node shapes the server sends again and again.

use crate::error::Result;
use std::time::{SystemTime, UNIX_EPOCH};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, NodeContent};

/// Encodes a node with its leading flag byte (0: uncompressed).
pub fn encode(node: &Node) -> Result<Vec<u8>> {
    Ok(wacore_binary::marshal(node)?)
}

/// Decodes a flag byte plus node, inflating zlib when the flag asks for it.
pub fn decode(data: &[u8]) -> Result<Node> {
    let unpacked = wacore_binary::util::unpack(data)?;
    Ok(wacore_binary::marshal::unmarshal_ref(&unpacked)?.to_owned())
}

/// `s.whatsapp.net` as a JID: clients ignore a `from` that is a plain string.
pub fn server_jid() -> Jid {
    Jid::pn("")
}

/// Seconds since the epoch, as the `t` attributes carry it.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

pub fn attr(node: &Node, name: &str) -> Option<String> {
    node.attrs
        .get(name)
        .map(|value| value.as_str().into_owned())
}

/// A JID attribute, whether the wire carried it as a JID or as text.
pub fn jid_attr(node: &Node, name: &str) -> Option<Jid> {
    node.attrs.get(name)?.to_jid()
}

pub fn child<'a>(node: &'a Node, tag: &str) -> Option<&'a Node> {
    node.get_optional_child(tag)
}

pub fn bytes(node: &Node) -> Option<&[u8]> {
    match &node.content {
        Some(NodeContent::Bytes(bytes)) => Some(bytes),
        Some(NodeContent::String(text)) => Some(text.as_bytes()),
        _ => None,
    }
}

/// An empty `<iq type="result">` answering `id`.
pub fn iq_result(id: &str) -> Node {
    iq_reply(id, "result").build()
}

/// `<iq type="error"><error code text/></iq>`: a well-formed refusal, so the
/// client's request resolves instead of waiting for a timeout.
pub fn iq_error(id: &str, code: u16, text: &str) -> Node {
    iq_reply(id, "error")
        .children([NodeBuilder::new("error")
            .attr("code", code.to_string())
            .attr("text", text)
            .build()])
        .build()
}

pub fn iq_reply(id: &str, kind: &'static str) -> NodeBuilder {
    NodeBuilder::new("iq")
        .attr("from", server_jid())
        .attr("id", id)
        .attr("type", kind)
}

/// `<enc v="2" type=…>ciphertext</enc>`.
pub fn enc(kind: &str, ciphertext: Vec<u8>) -> Node {
    NodeBuilder::new("enc")
        .attr("v", "2")
        .attr("type", kind.to_owned())
        .bytes(ciphertext)
        .build()
}

/// `<stream:error code=…/>`.
pub fn stream_error(code: u16) -> Node {
    NodeBuilder::new("stream:error")
        .attr("code", code.to_string())
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_keeps_from_as_a_jid() -> Result<()> {
        let node = NodeBuilder::new("iq")
            .attr("from", server_jid())
            .attr("id", "abc")
            .children([NodeBuilder::new("ref").bytes(b"r1".to_vec()).build()])
            .build();
        let wire = encode(&node)?;
        assert_eq!(wire[0], 0, "flag byte: uncompressed");
        let back = decode(&wire)?;
        assert_eq!(attr(&back, "id").as_deref(), Some("abc"));
        assert_eq!(
            back.attrs.get("from").and_then(|value| value.to_jid()),
            Some(server_jid())
        );
        assert_eq!(child(&back, "ref").and_then(bytes), Some(&b"r1"[..]));
        Ok(())
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(&[0, 0xff, 0xff]).is_err());
        assert!(decode(&[]).is_err());
    }
}
