//! Key directory queries: who has which devices (`usync`), a device's
//! prekey bundle (`encrypt` get `<key>`), and the digest of what a client
//! uploaded (`encrypt` get `<digest>`).

use super::{Action, Session};
use crate::delivery::device_key;
use crate::node::{attr, bytes, child, iq_error, iq_reply, jid_attr, unix_now};
use crate::state::State;
use buffa::Message as _;
use sha1::{Digest, Sha1};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use waproto::whatsapp as wa;

/// Prefix of the account's signature over a key index list.
const KEY_INDEX_LIST_SIGNATURE_PREFIX: [u8; 2] = [6, 2];

fn not_found(jid: &Jid) -> Node {
    NodeBuilder::new("user")
        .attr("jid", jid.clone())
        .children([NodeBuilder::new("error")
            .attr("code", "404")
            .attr("text", "item-not-found")
            .build()])
        .build()
}

/// `<devices>` for an account: the phone and every linked companion, with
/// the key index list WhatsApp signs with the account key.
fn devices_node(state: &State, number: &str) -> Node {
    let companions = state.companions_of(number);
    let mut list = vec![NodeBuilder::new("device").attr("id", "0").build()];
    list.extend(companions.iter().map(|record| {
        NodeBuilder::new("device")
            .attr("id", record.jid.device.to_string())
            .attr("key-index", record.key_index.to_string())
            .build()
    }));
    let mut children = vec![NodeBuilder::new("device-list").children(list).build()];
    if let (false, Ok(account)) = (companions.is_empty(), state.account(number)) {
        let details = wa::ADVKeyIndexList {
            raw_id: Some(1),
            timestamp: Some(unix_now()),
            current_index: companions.iter().map(|record| record.key_index).max(),
            valid_indexes: companions.iter().map(|record| record.key_index).collect(),
            ..Default::default()
        }
        .encode_to_vec();
        let message = [&KEY_INDEX_LIST_SIGNATURE_PREFIX[..], &details].concat();
        let signature = account
            .account_key
            .calculate_signature(&message, &mut rand::rng())
            .map(|signature| signature.to_vec())
            .unwrap_or_default();
        let signed = wa::ADVSignedKeyIndexList {
            details: Some(details),
            account_signature: Some(signature),
            account_signature_key: Some(crate::cert::key_bytes(&account.account_key).to_vec()),
        };
        children.push(
            NodeBuilder::new("key-index-list")
                .attr("ts", unix_now().to_string())
                .bytes(signed.encode_to_vec())
                .build(),
        );
    }
    NodeBuilder::new("devices").children(children).build()
}

/// The account a usync `<user>` asks about: by `jid`, or by a phone
/// number in `<contact>`.
fn asked_about(state: &State, user: &Node) -> (Option<Jid>, Option<String>) {
    if let Some(jid) = jid_attr(user, "jid") {
        let number = state.number_of(&jid);
        return (Some(jid), number);
    }
    let typed = child(user, "contact").and_then(bytes).map(|raw| {
        String::from_utf8_lossy(raw)
            .chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
    });
    let number = typed.filter(|digits| state.accounts.contains_key(digits));
    (None, number)
}

impl Session {
    pub(super) fn usync(&self, id: &str, iq: &Node) -> Vec<Action> {
        let Some(usync) = child(iq, "usync") else {
            return vec![Action::Send(iq_error(id, 400, "bad-request"))];
        };
        let protocols: Vec<String> = child(usync, "query")
            .and_then(|query| query.children())
            .map(|children| children.iter().map(|child| child.tag.to_string()).collect())
            .unwrap_or_default();
        let state = self.shared.state();
        let users = child(usync, "list")
            .map(|list| {
                list.get_children_by_tag("user")
                    .map(|user| {
                        let (jid, number) = asked_about(&state, user);
                        let reply_jid = jid
                            .clone()
                            .or_else(|| number.as_deref().map(Jid::pn))
                            .unwrap_or_else(|| Jid::pn(""));
                        let mut children = Vec::new();
                        for protocol in &protocols {
                            match (protocol.as_str(), &number) {
                                ("devices", Some(number)) => {
                                    children.push(devices_node(&state, number));
                                }
                                ("devices", None) => children.push(
                                    NodeBuilder::new("devices")
                                        .children([NodeBuilder::new("device-list").build()])
                                        .build(),
                                ),
                                ("lid", Some(number)) if !reply_jid.is_lid() => {
                                    if let Ok(account) = state.account(number) {
                                        children.push(
                                            NodeBuilder::new("lid")
                                                .attr("val", Jid::lid(account.lid_user.as_str()))
                                                .build(),
                                        );
                                    }
                                }
                                ("contact", found) => children.push(
                                    NodeBuilder::new("contact")
                                        .attr("type", if found.is_some() { "in" } else { "out" })
                                        .build(),
                                ),
                                _ => {}
                            }
                        }
                        NodeBuilder::new("user")
                            .attr("jid", reply_jid)
                            .children(children)
                            .build()
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let mut echo = NodeBuilder::new("usync");
        for name in ["sid", "mode", "context", "index", "last"] {
            if let Some(value) = attr(usync, name) {
                echo = echo.attr(name, value);
            }
        }
        let reply = iq_reply(id, "result")
            .children([echo
                .children([NodeBuilder::new("list").children(users).build()])
                .build()])
            .build();
        vec![Action::Send(reply)]
    }

    /// Prekey bundles, each answered under exactly the JID it was asked by.
    pub(super) fn prekey_bundles(&self, id: &str, key: &Node) -> Vec<Action> {
        let mut state = self.shared.state();
        let mut users = Vec::new();
        for user in key.get_children_by_tag("user") {
            let Some(jid) = jid_attr(user, "jid") else {
                continue;
            };
            users.push(bundle_for(&mut state, &jid));
        }
        let reply = iq_reply(id, "result")
            .children([NodeBuilder::new("list").children(users).build()])
            .build();
        vec![Action::Send(reply)]
    }

    /// What the server holds of this client's keys, for it to compare.
    pub(super) fn key_digest(&self, id: &str) -> Vec<Action> {
        let Some(jid) = self.jid.clone() else {
            return vec![Action::Send(iq_error(id, 401, "not-authorized"))];
        };
        let state = self.shared.state();
        let keys = state.device_keys.get(&device_key(&jid));
        let Some((keys, identity, (skey_id, skey, signature))) =
            keys.and_then(|keys| Some((keys, keys.identity?, keys.signed_prekey.clone()?)))
        else {
            return vec![Action::Send(iq_error(id, 404, "item-not-found"))];
        };
        let mut hash = Sha1::new();
        hash.update(identity);
        hash.update(skey);
        hash.update(&signature);
        for (_, public) in &keys.prekeys {
            hash.update(public);
        }
        let ids = keys.prekeys.iter().map(|(prekey, _)| {
            NodeBuilder::new("id")
                .bytes(prekey.to_be_bytes()[1..].to_vec())
                .build()
        });
        let digest = NodeBuilder::new("digest")
            .children([
                NodeBuilder::new("registration")
                    .bytes(keys.registration_id.to_be_bytes().to_vec())
                    .build(),
                NodeBuilder::new("type").bytes(vec![5]).build(),
                NodeBuilder::new("identity")
                    .bytes(identity.to_vec())
                    .build(),
                NodeBuilder::new("skey")
                    .children([
                        NodeBuilder::new("id")
                            .bytes(skey_id.to_be_bytes()[1..].to_vec())
                            .build(),
                        NodeBuilder::new("value").bytes(skey.to_vec()).build(),
                        NodeBuilder::new("signature")
                            .bytes(signature.clone())
                            .build(),
                    ])
                    .build(),
                NodeBuilder::new("list").children(ids).build(),
                NodeBuilder::new("hash")
                    .bytes(hash.finalize().to_vec())
                    .build(),
            ])
            .build();
        vec![Action::Send(
            iq_reply(id, "result").children([digest]).build(),
        )]
    }
}

fn bundle_for(state: &mut State, jid: &Jid) -> Node {
    let Some(number) = state.number_of(jid) else {
        return not_found(jid);
    };
    if jid.device == 0 {
        return match state
            .account_mut(&number)
            .and_then(|account| account.primary.bundle())
        {
            Ok(bundle) => bundle.to_node(jid),
            Err(_) => not_found(jid),
        };
    }
    let Some(record) = state.device(&number, jid.device).cloned() else {
        return not_found(jid);
    };
    match crate::outbound::take_companion_bundle(state, &record.jid) {
        Ok(bundle) => {
            let mut node = bundle.to_node(jid);
            if let Some(wacore_binary::NodeContent::Nodes(children)) = &mut node.content {
                children.push(
                    NodeBuilder::new("device-identity")
                        .bytes(record.signed_identity.clone())
                        .build(),
                );
            }
            node
        }
        Err(_) => not_found(jid),
    }
}
