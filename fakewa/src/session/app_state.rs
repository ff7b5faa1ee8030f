//! App-state sync answers for an account that has none.

use crate::node::{attr, child, iq_reply};
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

/// The fake account has no app state yet: every requested collection is
/// answered at the version the client holds, with no snapshot or patches.
/// (An iq error here would leave whatsapp-rust's first login without its
/// `Connected` event until its 180 s critical-sync timeout.)
pub(super) fn empty_app_state(id: &str, iq: &Node) -> Node {
    let collections = child(iq, "sync")
        .map(|sync| {
            sync.get_children_by_tag("collection")
                .map(|collection| {
                    let name = attr(collection, "name").unwrap_or_default();
                    let version = attr(collection, "version").unwrap_or_else(|| "0".into());
                    NodeBuilder::new("collection")
                        .attr("name", name)
                        .attr("version", version)
                        .build()
                })
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    iq_reply(id, "result")
        .children([NodeBuilder::new("sync").children(collections).build()])
        .build()
}
