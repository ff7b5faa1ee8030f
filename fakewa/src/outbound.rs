//! What the simulated devices (contacts' phones, the user's phone) send to
//! the real companions: direct and group messages, copies of what the phone
//! sent itself, peer messages, receipts. Everything goes through the delivery
//! queue, so an offline companion gets it at its next login.

use crate::delivery::device_key;
use crate::error::{FakeWaError, Result};
use crate::node::{enc, unix_now};
use crate::signal::address;
use crate::signal::{EncType, WireBundle};
use crate::state::{DeviceRecord, State};
use buffa::Message as _;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use waproto::whatsapp as wa;

/// Where a simulated device sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chat {
    /// A direct chat with the account of this phone number.
    Direct(String),
    /// A group, by the user part of its JID.
    Group(String),
}

impl Chat {
    pub fn jid(&self) -> Jid {
        match self {
            Self::Direct(number) => Jid::pn(number.as_str()),
            Self::Group(id) => Jid::group(id.as_str()),
        }
    }
}

/// A message a simulated device sent, kept to answer retry receipts.
#[derive(Debug, Clone)]
pub(crate) struct SentMessage {
    pub from: String,
    pub chat: Chat,
    pub message: wa::Message,
    pub timestamp: u64,
}

/// Options of one send.
#[derive(Debug, Clone, Default)]
pub struct SendOptions {
    /// Use this id instead of a fresh one (a redelivery with the same id is
    /// how WhatsApp repeats itself).
    pub id: Option<String>,
    /// Seconds since the epoch; now by default.
    pub timestamp: Option<u64>,
    /// Send garbage instead of the ciphertext the first time, so the client
    /// fails to decrypt and asks for a retry (which then succeeds).
    pub corrupt_first_attempt: bool,
    /// Mark the stanza as delivered from the offline queue.
    pub offline: bool,
    /// Send as a verified business with this name (`<verified_name>`).
    pub business_name: Option<String>,
    /// Which address the sender writes from.
    pub addressing: Addressing,
}

/// The address a message names its sender by, as WhatsApp mixes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Addressing {
    /// The phone number, with the LID beside it (`sender_lid`, `participant_lid`).
    #[default]
    Phone,
    /// The LID, with the phone number beside it (`sender_pn`, `participant_pn`).
    Lid,
    /// The LID alone: the receiver does not learn the number from this message.
    LidOnly,
}

/// The `type` attribute WhatsApp puts on a message stanza.
pub(crate) fn stanza_type(message: &wa::Message) -> &'static str {
    if message.reaction_message.is_set() {
        "reaction"
    } else if message.poll_creation_message.is_set()
        || message.poll_creation_message_v3.is_set()
        || message.poll_update_message.is_set()
    {
        "poll"
    } else if message.image_message.is_set()
        || message.video_message.is_set()
        || message.audio_message.is_set()
        || message.document_message.is_set()
        || message.sticker_message.is_set()
        || message.contact_message.is_set()
        || message.location_message.is_set()
    {
        "media"
    } else {
        "text"
    }
}

/// The `edit` attribute WhatsApp puts on edits and revokes.
pub(crate) fn edit_attribute(message: &wa::Message) -> Option<&'static str> {
    use wa::message::protocol_message::Type;
    match message.protocol_message.as_option()?.r#type? {
        Type::MESSAGE_EDIT => Some("1"),
        Type::REVOKE => Some("7"),
        _ => None,
    }
}

/// The user's own phone sends on every device with the same account; a copy
/// it sends to its own companions is wrapped so they know where it went.
fn device_sent(destination: &Jid, message: &wa::Message) -> wa::Message {
    wa::Message {
        device_sent_message: buffa::MessageField::some(wa::message::DeviceSentMessage {
            destination_jid: Some(destination.to_string()),
            message: buffa::MessageField::some(message.clone()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Encrypts for one companion, starting a session from its uploaded keys
/// when there is none yet.
pub(crate) fn encrypt_for(
    state: &mut State,
    from: &str,
    device: &DeviceRecord,
    plaintext: Vec<u8>,
) -> Result<(EncType, Vec<u8>)> {
    let remote = address(device.jid.user.as_str(), device.jid.device);
    if !state.account(from)?.primary.has_session(&remote) {
        let bundle = take_companion_bundle(state, &device.jid)?;
        state
            .account_mut(from)?
            .primary
            .start_session(&remote, &bundle)?;
    }
    state.account_mut(from)?.primary.encrypt(&remote, plaintext)
}

pub(crate) fn take_companion_bundle(state: &mut State, device: &Jid) -> Result<WireBundle> {
    state
        .device_keys
        .get_mut(&device_key(device))
        .and_then(|keys| keys.take_bundle())
        .ok_or_else(|| FakeWaError::NoPrekeys(device.to_string()))
}

struct Envelope<'a> {
    id: &'a str,
    timestamp: u64,
    kind: &'static str,
    edit: Option<&'static str>,
    from: &'a Jid,
    options: &'a SendOptions,
}

impl Envelope<'_> {
    fn builder(&self) -> NodeBuilder {
        let builder = NodeBuilder::new("message")
            .attr("from", self.from.clone())
            .attr("id", self.id.to_owned())
            .attr("t", self.timestamp.to_string())
            .attr("type", self.kind);
        let builder = match self.edit {
            Some(edit) => builder.attr("edit", edit),
            None => builder,
        };
        if self.options.offline {
            builder.attr("offline", "1")
        } else {
            builder
        }
    }
}

fn ciphertext_or_garbage(ciphertext: (EncType, Vec<u8>), corrupt: bool) -> (EncType, Vec<u8>) {
    if corrupt {
        let (kind, mut bytes) = ciphertext;
        // The envelope still parses; only its MAC (or signature) is wrong,
        // which is what a client sees when its session went out of step.
        if let Some(last) = bytes.last_mut() {
            *last ^= 0xff;
        }
        (kind, bytes)
    } else {
        ciphertext
    }
}

/// Sends `message` from the phone of `from` to `chat`; returns the id.
pub(crate) fn send_message(
    state: &mut State,
    from: &str,
    chat: &Chat,
    message: &wa::Message,
    options: &SendOptions,
) -> Result<String> {
    let id = options.id.clone().unwrap_or_else(|| state.message_id());
    let timestamp = options.timestamp.unwrap_or_else(unix_now);
    state.sent.insert(
        id.clone(),
        SentMessage {
            from: from.to_owned(),
            chat: chat.clone(),
            message: message.clone(),
            timestamp,
        },
    );
    match chat {
        Chat::Direct(to) => send_direct(state, from, to, &id, timestamp, message, options)?,
        Chat::Group(group) => send_group(state, from, group, &id, timestamp, message, options)?,
    }
    Ok(id)
}

fn send_direct(
    state: &mut State,
    from: &str,
    to: &str,
    id: &str,
    timestamp: u64,
    message: &wa::Message,
    options: &SendOptions,
) -> Result<()> {
    let sender = state.account(from)?;
    let (lid, push_name) = (Jid::lid(sender.lid_user.as_str()), sender.push_name.clone());
    state.account(to)?;
    let from_jid = match options.addressing {
        Addressing::Phone => Jid::pn(from),
        Addressing::Lid | Addressing::LidOnly => lid.clone(),
    };
    let envelope = Envelope {
        id,
        timestamp,
        kind: stanza_type(message),
        edit: edit_attribute(message),
        from: &from_jid,
        options,
    };
    let plaintext = message.encode_to_vec();
    for device in state.companions_of(to) {
        let sealed = encrypt_for(state, from, &device, plaintext.clone())?;
        let (kind, bytes) = ciphertext_or_garbage(sealed, options.corrupt_first_attempt);
        let mut children = vec![enc(kind.as_str(), bytes)];
        if let Some(name) = &options.business_name {
            children.push(
                NodeBuilder::new("verified_name")
                    .attr("name", name.clone())
                    .build(),
            );
        }
        let builder = match options.addressing {
            Addressing::Phone => envelope.builder().attr("sender_lid", lid.clone()),
            Addressing::Lid => envelope.builder().attr("sender_pn", Jid::pn(from)),
            Addressing::LidOnly => envelope.builder(),
        };
        let node = builder
            .attr("notify", push_name.clone())
            .children(children)
            .build();
        state.delivery.enqueue(&device.jid, node);
    }
    // What the phone sends itself shows up on its own companions too.
    let copy = device_sent(&Jid::pn(to), message).encode_to_vec();
    for device in state.companions_of(from) {
        let (kind, bytes) = encrypt_for(state, from, &device, copy.clone())?;
        let node = envelope
            .builder()
            .attr("recipient", Jid::pn(to))
            .children([enc(kind.as_str(), bytes)])
            .build();
        state.delivery.enqueue(&device.jid, node);
    }
    Ok(())
}

fn skdm_message(group: &Jid, skdm: Vec<u8>) -> wa::Message {
    wa::Message {
        sender_key_distribution_message: buffa::MessageField::some(
            wa::message::SenderKeyDistributionMessage {
                group_id: Some(group.to_string()),
                axolotl_sender_key_distribution_message: Some(skdm),
            },
        ),
        ..Default::default()
    }
}

/// The name under which a simulated device's sender key lives.
pub(crate) fn sender_key_owner(number: &str, device: u16) -> String {
    format!("{number}:{device}")
}

fn send_group(
    state: &mut State,
    from: &str,
    group_id: &str,
    id: &str,
    timestamp: u64,
    message: &wa::Message,
    options: &SendOptions,
) -> Result<()> {
    let group_jid = Jid::group(group_id);
    let members = state
        .groups
        .get(group_id)
        .ok_or_else(|| FakeWaError::UnknownGroup(group_id.to_owned()))?
        .member_numbers();
    if !members.iter().any(|member| member == from) {
        return Err(FakeWaError::NotInGroup(from.to_owned()));
    }
    let me = sender_key_owner(from, 0);
    let group_name = group_jid.to_string();
    let sender = state.account_mut(from)?;
    let lid = Jid::lid(sender.lid_user.as_str());
    let push_name = sender.push_name.clone();
    let skdm = sender.primary.sender_key_distribution(&group_name, &me)?;
    let skmsg = sender
        .primary
        .group_encrypt(&group_name, &me, message.encode_to_vec())?;
    let from_jid = Jid::pn(from);
    let envelope = Envelope {
        id,
        timestamp,
        kind: stanza_type(message),
        edit: edit_attribute(message),
        from: &group_jid,
        options,
    };
    for member in &members {
        for device in state.companions_of(member) {
            let mut children = Vec::new();
            let key = (from.to_owned(), device_key(&device.jid));
            let needs_key = state
                .groups
                .get(group_id)
                .is_some_and(|group| !group.skdm_sent.contains(&key));
            if needs_key {
                let plaintext = skdm_message(&group_jid, skdm.clone()).encode_to_vec();
                let (kind, bytes) = encrypt_for(state, from, &device, plaintext)?;
                children.push(enc(kind.as_str(), bytes));
                if let Some(group) = state.groups.get_mut(group_id) {
                    group.skdm_sent.insert(key);
                }
            }
            let (_, bytes) = ciphertext_or_garbage(
                (EncType::SenderKey, skmsg.clone()),
                options.corrupt_first_attempt,
            );
            children.push(enc(EncType::SenderKey.as_str(), bytes));
            let builder = match options.addressing {
                Addressing::Phone => envelope
                    .builder()
                    .attr("participant", from_jid.clone())
                    .attr("participant_lid", lid.clone())
                    .attr("addressing_mode", "pn"),
                Addressing::Lid => envelope
                    .builder()
                    .attr("participant", lid.clone())
                    .attr("participant_pn", from_jid.clone())
                    .attr("addressing_mode", "lid"),
                Addressing::LidOnly => envelope
                    .builder()
                    .attr("participant", lid.clone())
                    .attr("addressing_mode", "lid"),
            };
            let node = builder
                .attr("notify", push_name.clone())
                .children(children)
                .build();
            state.delivery.enqueue(&device.jid, node);
        }
    }
    Ok(())
}

/// Answers a retry receipt: encrypts the message again for that device on a
/// fresh session (from the keys the receipt carries, or new uploaded ones),
/// with the sender key inside for a group, and queues it under the same id.
pub(crate) fn resend(
    state: &mut State,
    device: &DeviceRecord,
    id: &str,
    count: u32,
    bundle_in_receipt: Option<WireBundle>,
) -> Result<()> {
    let sent = state
        .sent
        .get(id)
        .cloned()
        .ok_or_else(|| FakeWaError::UnknownMessage(id.to_owned()))?;
    let remote = address(device.jid.user.as_str(), device.jid.device);
    let bundle = match bundle_in_receipt {
        Some(bundle) => bundle,
        None => take_companion_bundle(state, &device.jid)?,
    };
    let primary = &mut state.account_mut(&sent.from)?.primary;
    primary.forget_session(&remote);
    primary.start_session(&remote, &bundle)?;
    let mut plaintext_message = sent.message.clone();
    let from_jid = Jid::pn(sent.from.as_str());
    let builder = match &sent.chat {
        Chat::Direct(_) => NodeBuilder::new("message").attr("from", from_jid),
        Chat::Group(group) => {
            let group_jid = Jid::group(group.as_str());
            let me = sender_key_owner(&sent.from, 0);
            let skdm = state
                .account_mut(&sent.from)?
                .primary
                .sender_key_distribution(&group_jid.to_string(), &me)?;
            plaintext_message.sender_key_distribution_message =
                skdm_message(&group_jid, skdm).sender_key_distribution_message;
            NodeBuilder::new("message")
                .attr("from", group_jid)
                .attr("participant", from_jid)
        }
    };
    let (kind, bytes) = state
        .account_mut(&sent.from)?
        .primary
        .encrypt(&remote, plaintext_message.encode_to_vec())?;
    let mut enc_node = enc(kind.as_str(), bytes);
    enc_node.attrs.insert("count", count.to_string());
    let node = builder
        .attr("id", id.to_owned())
        .attr("t", sent.timestamp.to_string())
        .attr("type", stanza_type(&sent.message))
        .children([enc_node])
        .build();
    state.delivery.enqueue_resend(&device.jid, node);
    Ok(())
}

/// Sends a peer message from the phone of `number` to its own companions
/// (history sync notifications, app-state keys); returns the id.
pub(crate) fn send_peer(state: &mut State, number: &str, message: &wa::Message) -> Result<String> {
    let id = state.message_id();
    let plaintext = message.encode_to_vec();
    for device in state.companions_of(number) {
        if !state.device_keys.contains_key(&device_key(&device.jid)) {
            continue;
        }
        let (kind, bytes) = encrypt_for(state, number, &device, plaintext.clone())?;
        let node = NodeBuilder::new("message")
            .attr("from", Jid::pn(number))
            .attr("id", id.clone())
            .attr("t", unix_now().to_string())
            .attr("type", "text")
            .attr("category", "peer")
            .children([enc(kind.as_str(), bytes)])
            .build();
        state.delivery.enqueue(&device.jid, node);
    }
    Ok(id)
}

/// A receipt as one of the simulated phones sends it.
#[derive(Debug, Clone)]
pub struct ReceiptSpec {
    /// `None`: delivered; otherwise `read`, `played`, `read-self`, …
    pub kind: Option<String>,
    pub ids: Vec<String>,
}

pub(crate) fn receipt_node(
    from: Jid,
    participant: Option<Jid>,
    recipient: Option<Jid>,
    spec: &ReceiptSpec,
) -> Option<Node> {
    let (first, rest) = spec.ids.split_first()?;
    let mut builder = NodeBuilder::new("receipt")
        .attr("from", from)
        .attr("id", first.clone())
        .attr("t", unix_now().to_string());
    if let Some(participant) = participant {
        builder = builder.attr("participant", participant);
    }
    if let Some(recipient) = recipient {
        builder = builder.attr("recipient", recipient);
    }
    if let Some(kind) = &spec.kind {
        builder = builder.attr("type", kind.clone());
    }
    if !rest.is_empty() {
        let items = rest
            .iter()
            .map(|id| NodeBuilder::new("item").attr("id", id.clone()).build());
        builder = builder.children([NodeBuilder::new("list").children(items).build()]);
    }
    Some(builder.build())
}
