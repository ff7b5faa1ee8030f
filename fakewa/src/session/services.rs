//! The server's smaller services: media hosts (`w:m`), group metadata
//! (`w:g2`), profile pictures, privacy settings and tokens, A/B props, the
//! block list, and a companion's own logout (`remove-companion-device`).

use super::{Action, Session};
use crate::groups::group_node;
use crate::node::{attr, child, iq_error, iq_reply, iq_result, jid_attr};
use crate::state::ServerEvent;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, Server};

/// How long clients may reuse the media host answer, in seconds.
const MEDIA_CONN_TTL: &str = "300";

impl Session {
    pub(super) fn media_conn(&self, id: &str) -> Vec<Action> {
        let host = self.shared.media_host();
        let reply = iq_reply(id, "result")
            .children([NodeBuilder::new("media_conn")
                .attr("auth", format!("fake-auth-{}", self.conn))
                .attr("ttl", MEDIA_CONN_TTL)
                .attr("auth_ttl", "21600")
                .attr("max_buckets", "12")
                .children([NodeBuilder::new("host").attr("hostname", host).build()])
                .build()])
            .build();
        vec![Action::Send(reply)]
    }

    /// `w:g2`: one group's metadata, or every group the user is in.
    pub(super) fn group_query(&self, id: &str, iq: &Node) -> Vec<Action> {
        let state = self.shared.state();
        let me = self
            .jid
            .as_ref()
            .map(|jid| jid.user.to_string())
            .unwrap_or_default();
        let to = jid_attr(iq, "to");
        if child(iq, "participating").is_some() {
            let groups = state
                .groups
                .values()
                .filter(|group| group.members.iter().any(|member| member.number == me))
                .map(|group| group_node(&state, group));
            let reply = iq_reply(id, "result")
                .children([NodeBuilder::new("groups").children(groups).build()])
                .build();
            return vec![Action::Send(reply)];
        }
        let Some(group) = to
            .filter(|jid| jid.server == Server::Group)
            .and_then(|jid| state.groups.get(jid.user.as_str()))
        else {
            return vec![Action::Send(iq_error(id, 404, "item-not-found"))];
        };
        if !group.members.iter().any(|member| member.number == me) {
            return vec![Action::Send(iq_error(id, 403, "forbidden"))];
        }
        let mut reply = iq_reply(id, "result").children([group_node(&state, group)]);
        reply = reply.attr("from", group.jid());
        vec![Action::Send(reply.build())]
    }

    pub(super) fn profile_picture(&self, id: &str, iq: &Node) -> Vec<Action> {
        let state = self.shared.state();
        let target = jid_attr(iq, "target");
        let group_picture = target
            .as_ref()
            .filter(|jid| jid.server == wacore_binary::Server::Group)
            .and_then(|jid| state.groups.get(jid.user.as_str()))
            .and_then(|group| group.picture.clone());
        let picture = group_picture.or_else(|| {
            target
                .as_ref()
                .and_then(|jid| state.number_of(jid))
                .and_then(|number| state.account(&number).ok())
                .and_then(|account| account.picture.clone())
        });
        let Some(picture) = picture else {
            return vec![Action::Send(iq_error(id, 404, "item-not-found"))];
        };
        let known = child(iq, "picture").and_then(|asked| attr(asked, "id"));
        if known.as_deref() == Some(picture.id.as_str()) {
            let unchanged = NodeBuilder::new("picture").attr("status", "304").build();
            return vec![Action::Send(
                iq_reply(id, "result").children([unchanged]).build(),
            )];
        }
        let kind = child(iq, "picture")
            .and_then(|asked| attr(asked, "type"))
            .unwrap_or_else(|| "image".into());
        let url = format!(
            "https://{}{}",
            self.shared.media_host(),
            picture.direct_path
        );
        let node = NodeBuilder::new("picture")
            .attr("id", picture.id)
            .attr("type", kind)
            .attr("url", url)
            .attr("direct_path", picture.direct_path)
            .build();
        vec![Action::Send(
            iq_reply(id, "result").children([node]).build(),
        )]
    }

    pub(super) fn privacy_settings(&self, id: &str) -> Vec<Action> {
        let categories = [
            ("last", "all"),
            ("online", "all"),
            ("profile", "all"),
            ("status", "all"),
            ("readreceipts", "all"),
            ("groupadd", "all"),
            ("calladd", "all"),
        ]
        .into_iter()
        .map(|(name, value)| {
            NodeBuilder::new("category")
                .attr("name", name)
                .attr("value", value)
                .build()
        });
        let reply = iq_reply(id, "result")
            .children([NodeBuilder::new("privacy").children(categories).build()])
            .build();
        vec![Action::Send(reply)]
    }

    pub(super) fn props(&self, id: &str) -> Vec<Action> {
        let reply = iq_reply(id, "result")
            .children([NodeBuilder::new("props")
                .attr("protocol", "1")
                .attr("hash", "fake")
                .build()])
            .build();
        vec![Action::Send(reply)]
    }

    pub(super) fn blocklist(&self, id: &str) -> Vec<Action> {
        let reply = iq_reply(id, "result")
            .children([NodeBuilder::new("list").build()])
            .build();
        vec![Action::Send(reply)]
    }

    /// The companion unlinks itself: forgotten, and told so.
    pub(super) fn remove_companion(&mut self, id: &str, iq: &Node) -> Vec<Action> {
        let Some(own) = self.jid.clone() else {
            return vec![Action::Send(iq_error(id, 401, "not-authorized"))];
        };
        let named = child(iq, "remove-companion-device").and_then(|remove| jid_attr(remove, "jid"));
        let target = named.unwrap_or_else(|| own.clone());
        if target.user != own.user {
            return vec![Action::Send(iq_error(id, 403, "forbidden"))];
        }
        let target = Jid::pn_device(target.user.as_str(), target.device);
        self.forget_device(&target);
        self.shared.emit(ServerEvent::DeviceUnlinked {
            jid: target,
            by_companion: true,
        });
        vec![Action::Send(iq_result(id))]
    }
}
