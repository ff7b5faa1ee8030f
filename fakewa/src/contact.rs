//! A WhatsApp contact, as a test drives it: the contact's phone sends
//! messages, receipts, chat states and presence to the user's companions.

use crate::error::{FakeWaError, Result};
use crate::outbound::{self, Chat, ReceiptSpec, SendOptions};
use crate::state::{Account, Shared};
use std::sync::Arc;
use wacore_binary::Jid;
use wacore_binary::builder::NodeBuilder;
use waproto::whatsapp as wa;

/// The account of `number` (digits, international, no `+`); created on
/// first use, with a push name of "Fake <number>".
#[derive(Clone)]
pub struct Contact {
    shared: Arc<Shared>,
    number: String,
}

pub(crate) fn ensure_account(shared: &Shared, number: &str) -> Result<()> {
    let mut state = shared.state();
    if !state.accounts.contains_key(number) {
        let account = Account::new(number)?;
        state.accounts.insert(number.to_owned(), account);
    }
    Ok(())
}

impl Contact {
    pub(crate) fn new(shared: Arc<Shared>, number: &str) -> Result<Self> {
        if number.is_empty() || !number.chars().all(|c| c.is_ascii_digit()) {
            return Err(FakeWaError::UnknownAccount(number.to_owned()));
        }
        ensure_account(&shared, number)?;
        Ok(Self {
            shared,
            number: number.to_owned(),
        })
    }

    pub(crate) fn from_parts(shared: Arc<Shared>, number: &str) -> Self {
        Self {
            shared,
            number: number.to_owned(),
        }
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    /// `NUMBER@s.whatsapp.net`.
    pub fn jid(&self) -> Jid {
        Jid::pn(self.number.as_str())
    }

    /// `LID@lid`.
    pub fn lid(&self) -> Jid {
        let state = self.shared.state();
        let lid_user = state
            .account(&self.number)
            .map(|account| account.lid_user.clone())
            .unwrap_or_default();
        Jid::lid(lid_user)
    }

    pub fn set_push_name(&self, name: &str) -> Result<()> {
        self.shared.state().account_mut(&self.number)?.push_name = name.to_owned();
        Ok(())
    }

    /// A text message to the account of `to`; returns its id.
    pub fn send_text(&self, to: &str, text: &str) -> Result<String> {
        self.send(
            &Chat::Direct(to.to_owned()),
            &wa::Message {
                conversation: Some(text.to_owned()),
                ..Default::default()
            },
            &SendOptions::default(),
        )
    }

    /// A text message to a group this contact is in; returns its id.
    pub fn send_group_text(&self, group: &Jid, text: &str) -> Result<String> {
        self.send(
            &Chat::Group(group.user.to_string()),
            &wa::Message {
                conversation: Some(text.to_owned()),
                ..Default::default()
            },
            &SendOptions::default(),
        )
    }

    /// Any message to any chat: encrypted for each of the recipients'
    /// companions (and a copy for this account's own companions).
    pub fn send(
        &self,
        chat: &Chat,
        message: &wa::Message,
        options: &SendOptions,
    ) -> Result<String> {
        let mut state = self.shared.state();
        outbound::send_message(&mut state, &self.number, chat, message, options)
    }

    /// Receipts for messages the companions of `to` sent this contact.
    pub fn send_receipt(&self, to: &str, receipt: &ReceiptSpec) -> Result<()> {
        let mut state = self.shared.state();
        let node = outbound::receipt_node(self.jid(), None, None, receipt)
            .ok_or_else(|| FakeWaError::UnknownMessage("a receipt needs an id".into()))?;
        for device in state.companions_of(to) {
            state.delivery.enqueue(&device.jid, node.clone());
        }
        Ok(())
    }

    /// Typing (or stopping) in the direct chat with `to`; only reaches
    /// companions that are connected, as on WhatsApp.
    pub fn set_typing(&self, to: &str, typing: bool) {
        let state = self.shared.state();
        let node = NodeBuilder::new("chatstate")
            .attr("from", self.jid())
            .children([NodeBuilder::new(if typing { "composing" } else { "paused" }).build()])
            .build();
        for device in state.companions_of(to) {
            state.delivery.send_if_live(&device.jid, node.clone());
        }
    }

    /// Votes in a poll of `chat` as WhatsApp does: the chosen options' hashes encrypted
    /// with a key derived from the poll's secret, its ID, its creator and this voter.
    /// Returns the vote message's ID.
    pub fn vote(
        &self,
        chat: &Chat,
        poll_id: &str,
        poll_creator: &Jid,
        poll_from_voter: bool,
        secret: &[u8],
        options: &[&str],
    ) -> Result<String> {
        let chosen: Vec<Vec<u8>> = options
            .iter()
            .map(|option| wacore::poll::compute_option_hash(option).to_vec())
            .collect();
        let creator = format!("{}@{}", poll_creator.user, poll_creator.server);
        let voter = format!("{}@{}", self.jid().user, self.jid().server);
        let (payload, iv) =
            wacore::poll::encrypt_poll_vote_with_secret(&chosen, secret, poll_id, &creator, &voter)
                .map_err(|err| {
                    FakeWaError::UnknownMessage(format!("cannot encrypt a vote: {err}"))
                })?;
        let remote = match chat {
            Chat::Direct(number) => Jid::pn(number.as_str()).to_string(),
            Chat::Group(group) => group.to_string(),
        };
        let message = wa::Message {
            poll_update_message: buffa::MessageField::some(wa::message::PollUpdateMessage {
                poll_creation_message_key: buffa::MessageField::some(wa::MessageKey {
                    remote_jid: Some(remote),
                    from_me: Some(poll_from_voter),
                    id: Some(poll_id.to_owned()),
                    participant: None,
                }),
                vote: buffa::MessageField::some(wa::message::PollEncValue {
                    enc_payload: Some(payload),
                    enc_iv: Some(iv.to_vec()),
                }),
                sender_timestamp_ms: Some(crate::node::unix_now() as i64 * 1000),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.send(chat, &message, &SendOptions::default())
    }

    /// Rings the connected companions of `to` (a voice or video call offer); returns
    /// the call's ID. Only live devices ring, as on WhatsApp.
    pub fn call(&self, to: &str, video: bool) -> String {
        let mut state = self.shared.state();
        let call_id = state.message_id();
        let mut offer = vec![
            NodeBuilder::new("audio")
                .attr("enc", "opus")
                .attr("rate", "16000")
                .build(),
        ];
        if video {
            offer.push(NodeBuilder::new("video").attr("enc", "vp8").build());
        }
        let node = self.call_node(
            &mut state,
            NodeBuilder::new("offer")
                .attr("call-id", call_id.clone())
                .attr("call-creator", self.jid())
                .children(offer)
                .build(),
        );
        for device in state.companions_of(to) {
            state.delivery.send_if_live(&device.jid, node.clone());
        }
        call_id
    }

    /// Gives up on an unanswered call to `to`.
    pub fn hang_up(&self, to: &str, call_id: &str) {
        let mut state = self.shared.state();
        let node = self.call_node(
            &mut state,
            NodeBuilder::new("terminate")
                .attr("call-id", call_id)
                .attr("call-creator", self.jid())
                .build(),
        );
        for device in state.companions_of(to) {
            state.delivery.send_if_live(&device.jid, node.clone());
        }
    }

    fn call_node(
        &self,
        state: &mut crate::state::State,
        action: wacore_binary::Node,
    ) -> wacore_binary::Node {
        NodeBuilder::new("call")
            .attr("from", self.jid())
            .attr("id", state.message_id())
            .attr("t", crate::node::unix_now().to_string())
            .children([action])
            .build()
    }

    /// Online or offline, as seen by the connected companions of `to`.
    pub fn set_presence(&self, to: &str, available: bool, last_seen: Option<u64>) {
        let state = self.shared.state();
        let mut builder = NodeBuilder::new("presence").attr("from", self.jid());
        if !available {
            builder = builder.attr("type", "unavailable");
        }
        if let Some(last) = last_seen {
            builder = builder.attr("last", last.to_string());
        }
        let node = builder.build();
        for device in state.companions_of(to) {
            state.delivery.send_if_live(&device.jid, node.clone());
        }
    }

    /// Sets the profile picture (a JPEG) and tells the companions of
    /// `watchers` that it changed.
    pub fn set_picture(&self, jpeg: Vec<u8>, watchers: &[&str]) -> Result<()> {
        let mut state = self.shared.state();
        let direct_path = state.media.put("profile", jpeg);
        // Every picture has its own ID, as on WhatsApp (clients compare IDs, not bytes).
        state.next_message += 1;
        let id = format!(
            "{}{:06}",
            crate::node::unix_now(),
            state.next_message % 1_000_000
        );
        state.account_mut(&self.number)?.picture = Some(crate::media::StoredPicture {
            id: id.clone(),
            direct_path,
        });
        let notification_id = state.message_id();
        let node = NodeBuilder::new("notification")
            .attr("from", self.jid())
            .attr("id", notification_id)
            .attr("type", "picture")
            .attr("t", crate::node::unix_now().to_string())
            .children([NodeBuilder::new("set")
                .attr("jid", self.jid())
                .attr("id", id)
                .build()])
            .build();
        for watcher in watchers {
            for device in state.companions_of(watcher) {
                state.delivery.enqueue(&device.jid, node.clone());
            }
        }
        Ok(())
    }

    /// Encrypts and stores a file as this contact's phone would upload it,
    /// for a media message to point at.
    pub fn upload(&self, plaintext: &[u8], kind: crate::MediaKind) -> Result<crate::MediaRef> {
        self.shared.state().media.put_encrypted(plaintext, kind)
    }
}
