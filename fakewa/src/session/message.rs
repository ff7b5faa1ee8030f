//! Messages a companion sends: each `<enc>` goes to its destination device.
//! A simulated phone (a contact's, the user's own) decrypts its copy and the
//! test can read it; a real companion gets its copy relayed, as WhatsApp's
//! servers fan messages out. The sender gets the server's `<ack>` and, for
//! what a contact's phone decrypted, that phone's delivery receipt.

use super::{Action, Session};
use crate::error::{FakeWaError, Result};
use crate::node::{attr, bytes, child, enc, jid_attr, unix_now};
use crate::outbound::{ReceiptSpec, receipt_node, sender_key_owner};
use crate::signal::{EncType, address};
use crate::state::{ReceivedMessage, ServerEvent, State};
use buffa::Message as _;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node, Server};
use waproto::whatsapp as wa;

/// One `<enc>` and the device it is for.
struct Addressed {
    device: Jid,
    kind: EncType,
    ciphertext: Vec<u8>,
}

fn enc_of(node: &Node) -> Option<(EncType, Vec<u8>)> {
    let kind = EncType::parse(&attr(node, "type")?)?;
    Some((kind, bytes(node)?.to_vec()))
}

/// Where a JID points: an account's phone number and a device.
fn resolve(state: &State, jid: &Jid) -> Option<(String, u16)> {
    state.number_of(jid).map(|number| (number, jid.device))
}

impl Session {
    pub(super) fn on_message(&mut self, node: &Node) -> Vec<Action> {
        let id = attr(node, "id").unwrap_or_default();
        let to = jid_attr(node, "to");
        let (Some(sender), Some(to)) = (self.jid.clone(), to) else {
            return vec![Action::Send(nack(&id, node, 400))];
        };
        let result = {
            let mut state = self.shared.state();
            route(&mut state, &sender, &to, &id, node)
        };
        let events = match result {
            Ok(events) => events,
            Err(err) => {
                log::info!("conn {}: message {id} not routed: {err}", self.conn);
                vec![ServerEvent::MessageRejected {
                    sender: sender.clone(),
                    id: id.clone(),
                    reason: err.to_string(),
                }]
            }
        };
        for event in events {
            self.shared.emit(event);
        }
        let ack = NodeBuilder::new("ack")
            .attr("class", "message")
            .attr("id", id)
            .attr("t", unix_now().to_string())
            .attr("from", to)
            .build();
        vec![Action::Send(ack)]
    }
}

fn nack(id: &str, node: &Node, code: u16) -> Node {
    let mut builder = NodeBuilder::new("ack")
        .attr("class", "message")
        .attr("id", id.to_owned())
        .attr("error", code.to_string());
    if let Some(to) = jid_attr(node, "to") {
        builder = builder.attr("from", to);
    }
    builder.build()
}

/// Fans the stanza out; returns what the test may observe.
fn route(
    state: &mut State,
    sender: &Jid,
    to: &Jid,
    id: &str,
    node: &Node,
) -> Result<Vec<ServerEvent>> {
    let sender_number = sender.user.to_string();
    let mut addressed = Vec::new();
    if let Some(participants) = child(node, "participants") {
        for target in participants.get_children_by_tag("to") {
            let (Some(device), Some(enc_node)) = (jid_attr(target, "jid"), child(target, "enc"))
            else {
                continue;
            };
            if let Some((kind, ciphertext)) = enc_of(enc_node) {
                addressed.push(Addressed {
                    device,
                    kind,
                    ciphertext,
                });
            }
        }
    }
    let mut sender_key_message = None;
    for enc_node in node.get_children_by_tag("enc") {
        match enc_of(enc_node) {
            Some((EncType::SenderKey, ciphertext)) => sender_key_message = Some(ciphertext),
            // A direct `<enc>` outside `<participants>` goes to `to` itself
            // (peer messages to the user's own phone).
            Some((kind, ciphertext)) => addressed.push(Addressed {
                device: to.clone(),
                kind,
                ciphertext,
            }),
            None => {}
        }
    }
    let device_identity = child(node, "device-identity")
        .and_then(bytes)
        .map(<[u8]>::to_vec);
    let group = (to.server == Server::Group).then(|| to.user.to_string());
    let mut events = Vec::new();
    let mut relays: Vec<(Jid, Vec<Node>)> = Vec::new();

    for item in addressed {
        let Some((number, device)) = resolve(state, &item.device) else {
            events.push(ServerEvent::MessageRejected {
                sender: sender.clone(),
                id: id.to_owned(),
                reason: format!("no such device {}", item.device),
            });
            continue;
        };
        if device == 0 {
            match decrypt_on_phone(state, &number, sender, &item) {
                Ok(message) => {
                    if let Some(event) =
                        take_decrypted(state, &number, sender, to, group.as_deref(), id, message)?
                    {
                        events.push(event);
                    }
                }
                Err(err) => events.push(ServerEvent::DecryptFailed {
                    recipient: Jid::pn(number.as_str()),
                    sender: sender.clone(),
                    id: id.to_owned(),
                    reason: err.to_string(),
                }),
            }
        } else if let Some(record) = state.device(&number, device).cloned() {
            if record.jid == *sender {
                continue;
            }
            relays.push((record.jid, vec![enc(item.kind.as_str(), item.ciphertext)]));
        }
    }

    if let (Some(group), Some(skmsg)) = (group.as_deref(), sender_key_message) {
        events.extend(decrypt_group_on_phones(
            state, group, sender, to, id, &skmsg,
        )?);
        let members = state
            .groups
            .get(group)
            .map(|group| group.member_numbers())
            .unwrap_or_default();
        for member in members {
            for device in state.companions_of(&member) {
                if device.jid == *sender {
                    continue;
                }
                match relays.iter_mut().find(|(jid, _)| *jid == device.jid) {
                    Some((_, children)) => children.push(enc("skmsg", skmsg.clone())),
                    None => relays.push((device.jid.clone(), vec![enc("skmsg", skmsg.clone())])),
                }
            }
        }
    }

    for (device, mut children) in relays {
        if let Some(identity) = &device_identity {
            children.push(
                NodeBuilder::new("device-identity")
                    .bytes(identity.clone())
                    .build(),
            );
        }
        let mut builder = NodeBuilder::new("message")
            .attr("id", id.to_owned())
            .attr("t", unix_now().to_string())
            .attr("type", attr(node, "type").unwrap_or_else(|| "text".into()));
        builder = match &group {
            Some(_) => builder
                .attr("from", to.clone())
                .attr("participant", sender.clone()),
            None if device.user == sender.user => builder
                .attr("from", sender.clone())
                .attr("recipient", to.to_non_ad()),
            None => builder.attr("from", sender.clone()),
        };
        if let Ok(account) = state.account(&sender_number) {
            builder = builder.attr("notify", account.push_name.clone());
        }
        state
            .delivery
            .enqueue(&device, builder.children(children).build());
    }
    Ok(events)
}

fn decrypt_on_phone(
    state: &mut State,
    number: &str,
    sender: &Jid,
    item: &Addressed,
) -> Result<wa::Message> {
    let remote = address(sender.user.as_str(), sender.device);
    let plaintext =
        state
            .account_mut(number)?
            .primary
            .decrypt(&remote, item.kind, &item.ciphertext)?;
    Ok(wa::Message::decode_from_slice(&plaintext)?)
}

/// Files a message a phone decrypted: sender keys are kept, the rest is
/// recorded for the test; a contact's phone confirms delivery.
fn take_decrypted(
    state: &mut State,
    number: &str,
    sender: &Jid,
    to: &Jid,
    group: Option<&str>,
    id: &str,
    mut message: wa::Message,
) -> Result<Option<ServerEvent>> {
    if let Some(skdm) = message.sender_key_distribution_message.take()
        && let (Some(group), Some(key)) = (group, skdm.axolotl_sender_key_distribution_message)
    {
        let owner = sender_key_owner(sender.user.as_str(), sender.device);
        state.account_mut(number)?.primary.accept_sender_key(
            &Jid::group(group).to_string(),
            &owner,
            &key,
        )?;
    }
    let own_copy = number == sender.user.as_str();
    let chat = if let Some(group) = group {
        Jid::group(group)
    } else if own_copy {
        to.to_non_ad()
    } else {
        Jid::pn(sender.user.as_str())
    };
    if let Some(sent) = message.device_sent_message.take() {
        message = sent.message.into_option().unwrap_or_default();
    }
    if message == wa::Message::default() {
        // Only a sender key: the content comes in the skmsg.
        return Ok(None);
    }
    if !own_copy {
        confirm_delivery(state, number, sender, group, id);
    } else if let Some(request) = message
        .protocol_message
        .as_option()
        .and_then(|protocol| protocol.peer_data_operation_request_message.as_option())
    {
        answer_peer_request(state, number, sender, id, request);
    }
    Ok(Some(record(state, number, sender, chat, id, message)))
}

fn record(
    state: &mut State,
    number: &str,
    sender: &Jid,
    chat: Jid,
    id: &str,
    message: wa::Message,
) -> ServerEvent {
    let received = ReceivedMessage {
        recipient: Jid::pn(number),
        sender: sender.clone(),
        chat,
        id: id.to_owned(),
        message: Box::new(message),
    };
    state.decrypted.push(received.clone());
    ServerEvent::MessageDecrypted(received)
}

/// A peer request from a companion reaches the phone: an online phone acknowledges it
/// (`peer_msg` receipt from its device 0); an offline one says nothing.
fn answer_peer_request(
    state: &mut State,
    number: &str,
    companion: &Jid,
    id: &str,
    request: &wa::message::PeerDataOperationRequestMessage,
) {
    if state
        .account(number)
        .is_ok_and(|account| account.phone_offline)
    {
        return;
    }
    let spec = ReceiptSpec {
        kind: Some("peer_msg".into()),
        ids: vec![id.to_owned()],
    };
    if let Some(node) = receipt_node(Jid::pn(number), None, None, &spec) {
        state.delivery.enqueue(companion, node);
    }
    // An on-demand history request is answered from the phone's archive of the chat.
    let Some(wanted) = request.history_sync_on_demand_request.as_option() else {
        return;
    };
    let answer = state.account(number).ok().and_then(|account| {
        let archive = account.archive.get(wanted.chat_jid.as_deref()?)?;
        crate::history::on_demand_answer(
            archive,
            wanted.oldest_msg_timestamp_ms.unwrap_or(i64::MAX),
            usize::try_from(wanted.on_demand_msg_count.unwrap_or(50)).unwrap_or(50),
            id,
        )
    });
    let Some(script) = answer else {
        return;
    };
    let sent = (|| {
        let sync = crate::history::build(state, &script);
        let compressed = crate::history::compress(&sync)?;
        let message = crate::history::notification(
            &mut state.media,
            &script,
            compressed,
            crate::history::HistoryDelivery::Inline,
        )?;
        crate::outbound::send_peer(state, number, &message)
    })();
    if let Err(err) = sent {
        log::warn!("the phone could not answer an on-demand history request: {err}");
    }
}

/// The delivery receipt a contact's phone sends when a message arrives.
fn confirm_delivery(state: &mut State, number: &str, sender: &Jid, group: Option<&str>, id: &str) {
    let spec = ReceiptSpec {
        kind: None,
        ids: vec![id.to_owned()],
    };
    let node = match group {
        Some(group) => receipt_node(Jid::group(group), Some(Jid::pn(number)), None, &spec),
        None => receipt_node(Jid::pn(number), None, None, &spec),
    };
    if let Some(node) = node {
        state.delivery.enqueue(sender, node);
    }
}

fn decrypt_group_on_phones(
    state: &mut State,
    group: &str,
    sender: &Jid,
    to: &Jid,
    id: &str,
    skmsg: &[u8],
) -> Result<Vec<ServerEvent>> {
    let members = state
        .groups
        .get(group)
        .ok_or_else(|| FakeWaError::UnknownGroup(group.to_owned()))?
        .member_numbers();
    let owner = sender_key_owner(sender.user.as_str(), sender.device);
    let group_name = Jid::group(group).to_string();
    let mut events = Vec::new();
    for member in members {
        let decrypted = state
            .account_mut(&member)
            .and_then(|account| account.primary.group_decrypt(&group_name, &owner, skmsg))
            .and_then(|plaintext| Ok(wa::Message::decode_from_slice(&plaintext)?));
        match decrypted {
            Ok(message) => {
                if member != sender.user.as_str() {
                    confirm_delivery(state, &member, sender, Some(group), id);
                }
                events.push(record(state, &member, sender, to.to_non_ad(), id, message));
            }
            Err(err) => events.push(ServerEvent::DecryptFailed {
                recipient: Jid::pn(member.as_str()),
                sender: sender.clone(),
                id: id.to_owned(),
                reason: err.to_string(),
            }),
        }
    }
    Ok(events)
}
