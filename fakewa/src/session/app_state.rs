//! App-state sync answers: the account's address book for the contacts collection (a
//! snapshot when the client asks for one, else the patches it lacks), every other
//! collection as it is on the client.

use buffa::Message as _;
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;
use waproto::whatsapp as wa;

use crate::app_state::{AppState, CONTACTS};
use crate::media::MediaStore;
use crate::media_crypto::MediaKind;
use crate::node::{attr, child, iq_reply};

/// Answers every requested collection. (An iq error here would leave whatsapp-rust's
/// first login without its `Connected` event until its 180 s critical-sync timeout.)
pub(super) fn app_state_answer(
    id: &str,
    iq: &Node,
    state: Option<&AppState>,
    media: &mut MediaStore,
) -> Node {
    let collections = child(iq, "sync")
        .map(|sync| {
            sync.get_children_by_tag("collection")
                .map(|collection| answer_collection(collection, state, media))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    iq_reply(id, "result")
        .children([NodeBuilder::new("sync").children(collections).build()])
        .build()
}

fn answer_collection(collection: &Node, state: Option<&AppState>, media: &mut MediaStore) -> Node {
    let name = attr(collection, "name").unwrap_or_default();
    let version = attr(collection, "version").unwrap_or_else(|| "0".into());
    let known: u64 = version.parse().unwrap_or(0);
    let wants_snapshot = attr(collection, "return_snapshot").as_deref() == Some("true");
    let unchanged = || {
        NodeBuilder::new("collection")
            .attr("name", name.clone())
            .attr("version", version.clone())
            .build()
    };
    let Some(state) = state.filter(|state| name == CONTACTS && state.version() > 0) else {
        return unchanged();
    };
    let builder = NodeBuilder::new("collection")
        .attr("name", name.clone())
        .attr("version", state.version().to_string())
        .attr("has_more_patches", "false");
    if wants_snapshot {
        let snapshot = state.snapshot().encode_to_vec();
        let Ok(stored) = media.put_encrypted(&snapshot, MediaKind::AppState) else {
            return unchanged();
        };
        let reference = wa::ExternalBlobReference {
            media_key: Some(stored.media_key.to_vec()),
            direct_path: Some(stored.direct_path),
            file_size_bytes: Some(stored.file_length),
            file_sha256: Some(stored.file_sha256.to_vec()),
            file_enc_sha256: Some(stored.file_enc_sha256.to_vec()),
            ..Default::default()
        };
        return builder
            .children([NodeBuilder::new("snapshot")
                .bytes(reference.encode_to_vec())
                .build()])
            .build();
    }
    if state.version() <= known {
        return unchanged();
    }
    let patches = state.patches_after(known).iter().map(|patch| {
        NodeBuilder::new("patch")
            .bytes(patch.encode_to_vec())
            .build()
    });
    builder
        .children([NodeBuilder::new("patches").children(patches).build()])
        .build()
}
