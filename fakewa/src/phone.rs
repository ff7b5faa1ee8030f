//! The fake user's phone, as the test drives it.

use crate::adv;
use crate::error::{FakeWaError, Result};
use crate::history::{HistoryDelivery, HistorySyncScript};
use crate::link_code::{PrimaryHello, unwrap_with_code, wrap_with_code};
use crate::node::{iq_reply, server_jid, unix_now};
use crate::outbound;
use crate::qr::QrCode;
use crate::state::{ConnCommand, ConnId, DeviceRecord, PendingPair, ServerEvent, Shared, State};
use std::sync::Arc;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use wacore_libsignal::protocol::KeyPair;

/// The primary device of the account `number` (digits, international, no `+`).
#[derive(Clone)]
pub struct Phone {
    shared: Arc<Shared>,
    number: String,
}

/// A `pair-success` is on its way to the companion.
#[derive(Debug, Clone, PartialEq)]
pub struct PairingStarted {
    pub conn: ConnId,
    pub jid: Jid,
    pub lid: Jid,
}

impl Phone {
    pub(crate) fn new(shared: Arc<Shared>, number: &str) -> Result<Self> {
        crate::contact::ensure_account(&shared, number)?;
        Ok(Self {
            shared,
            number: number.to_owned(),
        })
    }

    /// The same account as a contact of others: what the user sends from
    /// the phone (the companions get a copy).
    pub fn as_contact(&self) -> crate::contact::Contact {
        crate::contact::Contact::from_parts(self.shared.clone(), &self.number)
    }

    pub fn jid(&self) -> Jid {
        Jid::pn(self.number.as_str())
    }

    pub fn lid(&self) -> Jid {
        self.as_contact().lid()
    }

    /// Scans a companion's QR code: checks it names a live registration
    /// (its ref was offered on the connection whose Noise static key it
    /// carries), then sends that connection `pair-success`.
    pub fn scan_qr(&self, qr: &str) -> Result<PairingStarted> {
        let qr = QrCode::parse(qr)?;
        let (conn, commands) = {
            let state = self.shared.state();
            state
                .conns
                .iter()
                .find(|(_, entry)| {
                    entry.client_static == qr.noise_public && entry.refs.contains(&qr.pairing_ref)
                })
                .map(|(conn, entry)| (*conn, entry.commands.clone()))
                .ok_or(FakeWaError::NoPairingConnection)?
        };
        let (node, pending, started) = pair_success(
            &self.shared,
            &self.number,
            conn,
            qr.noise_public,
            &qr.identity_public,
            &qr.adv_secret,
        )?;
        commands
            .send(ConnCommand::Pair { node, pending })
            .map_err(|_| FakeWaError::ConnectionGone)?;
        Ok(started)
    }

    /// The user types the companion's pairing code on the phone: the phone
    /// unwraps the companion's ephemeral key with it and answers with
    /// `primary_hello`. The companion then sends `companion_finish`, and
    /// pairing continues as after a QR scan.
    pub fn enter_pair_code(&self, code: &str) -> Result<ConnId> {
        let (conn, request, commands, account_public) = {
            let state = self.shared.state();
            let (conn, entry) = state
                .conns
                .iter()
                .find(|(_, entry)| {
                    entry
                        .code_request
                        .as_ref()
                        .is_some_and(|request| request.number == self.number)
                })
                .ok_or(FakeWaError::NoPairingConnection)?;
            let request = entry
                .code_request
                .clone()
                .ok_or(FakeWaError::NoPairingConnection)?;
            let account = state.account(&self.number)?;
            let account_public = crate::cert::key_bytes(&account.account_key);
            (*conn, request, entry.commands.clone(), account_public)
        };
        let companion_ephemeral = unwrap_with_code(&request.wrapped_companion_ephemeral, code)?;
        let hello = PrimaryHello {
            number: self.number.clone(),
            pairing_ref: request.pairing_ref.clone(),
            primary_ephemeral: KeyPair::generate(&mut rand::rng()),
            companion_ephemeral,
        };
        let wrapped_primary =
            wrap_with_code(&crate::cert::key_bytes(&hello.primary_ephemeral), code);
        let node = NodeBuilder::new("notification")
            .attr("from", server_jid())
            .attr("id", format!("primary-hello-{conn}"))
            .attr("type", "link_code_companion_reg")
            .attr("t", unix_now().to_string())
            .children([NodeBuilder::new("link_code_companion_reg")
                .attr("stage", "primary_hello")
                .children([
                    NodeBuilder::new("link_code_pairing_wrapped_primary_ephemeral_pub")
                        .bytes(wrapped_primary)
                        .build(),
                    NodeBuilder::new("primary_identity_pub")
                        .bytes(account_public.to_vec())
                        .build(),
                    NodeBuilder::new("link_code_pairing_ref")
                        .bytes(request.pairing_ref.into_bytes())
                        .build(),
                ])
                .build()])
            .build();
        commands
            .send(ConnCommand::PrimaryHello { node, hello })
            .map_err(|_| FakeWaError::ConnectionGone)?;
        Ok(conn)
    }
}

/// The phone's account key, for sessions that finish a code pairing.
pub(crate) fn account_key(shared: &Shared, number: &str) -> Result<KeyPair> {
    Ok(shared.state().account(number)?.account_key.clone())
}

/// Allocates the companion's device number and builds `pair-success`.
pub(crate) fn pair_success(
    shared: &Shared,
    number: &str,
    conn: ConnId,
    noise_public: [u8; 32],
    companion_identity: &[u8; 32],
    adv_secret: &[u8],
) -> Result<(Node, PendingPair, PairingStarted)> {
    let (voucher, jid, lid, device_id) = {
        let mut state = shared.state();
        let account = state.account_mut(number)?;
        let device_id = account.next_device;
        account.next_device += 1;
        let key_index = account.next_key_index;
        account.next_key_index += 1;
        let voucher = adv::vouch(
            &account.account_key,
            companion_identity,
            adv_secret,
            key_index,
            unix_now(),
        )?;
        let jid = Jid::pn_device(number, device_id);
        let lid = Jid::lid_device(account.lid_user.as_str(), device_id);
        (voucher, jid, lid, device_id)
    };
    let key_index = voucher.key_index;

    let iq_id = format!("pair-{conn}-{device_id}");
    let node = iq_reply(&iq_id, "set")
        .attr("xmlns", "md")
        .children([NodeBuilder::new("pair-success")
            .children([
                NodeBuilder::new("device-identity")
                    .bytes(voucher.hmac_container.clone())
                    .build(),
                NodeBuilder::new("platform").attr("name", "android").build(),
                NodeBuilder::new("device")
                    .attr("jid", jid.clone())
                    .attr("lid", lid.clone())
                    .build(),
            ])
            .build()])
        .build();
    let pending = PendingPair {
        iq_id,
        voucher,
        device: DeviceRecord {
            noise_public,
            jid: jid.clone(),
            lid: lid.clone(),
            key_index,
            signed_identity: Vec::new(),
        },
    };
    Ok((node, pending, PairingStarted { conn, jid, lid }))
}

impl Phone {
    /// The companions linked to this phone, oldest first.
    pub fn companions(&self) -> Vec<Jid> {
        self.shared
            .state()
            .companions_of(&self.number)
            .into_iter()
            .map(|record| record.jid)
            .collect()
    }

    /// Sends a history sync to every companion of this phone; returns the
    /// id of the notification message.
    pub fn send_history_sync(
        &self,
        script: &HistorySyncScript,
        delivery: HistoryDelivery,
    ) -> Result<String> {
        let mut state = self.shared.state();
        let sync = crate::history::build(&state, script);
        let compressed = crate::history::compress(&sync)?;
        let message = crate::history::notification(&mut state.media, script, compressed, delivery)?;
        outbound::send_peer(&mut state, &self.number, &message)
    }

    /// What the phone holds of a chat: it answers companions' on-demand history
    /// requests for the chat from these messages.
    pub fn keep_archive(&self, conversation: crate::history::HistoryConversation) -> Result<()> {
        let mut state = self.shared.state();
        let account = state.account_mut(&self.number)?;
        account
            .archive
            .insert(conversation.chat.to_string(), conversation);
        Ok(())
    }

    /// The user unlinks `device` on the phone: a connected companion is told
    /// at once (`device_removed`); an offline one is refused at its next login.
    pub fn unlink(&self, device: &Jid) -> Result<()> {
        let device = Jid::pn_device(device.user.as_str(), device.device);
        let conn = {
            let mut state = self.shared.state();
            if state.device(&self.number, device.device).is_none() {
                return Err(FakeWaError::UnknownDevice(device.to_string()));
            }
            let conn = state
                .conns
                .iter()
                .find(|(_, entry)| entry.device.as_ref() == Some(&device))
                .map(|(conn, entry)| (*conn, entry.commands.clone()));
            forget_device(&mut state, &device);
            conn
        };
        self.shared.emit(ServerEvent::DeviceUnlinked {
            jid: device,
            by_companion: false,
        });
        if let Some((_, commands)) = conn {
            // A gone connection has nothing left to tell.
            let _ = commands.send(ConnCommand::End(crate::script::StreamEnd::DeviceRemoved));
        }
        Ok(())
    }

    /// The user reads messages on the phone: the companions learn it
    /// (`read-self`), as on WhatsApp.
    pub fn mark_read(&self, chat: &Jid, ids: &[String]) -> Result<()> {
        let mut state = self.shared.state();
        let spec = outbound::ReceiptSpec {
            kind: Some("read-self".into()),
            ids: ids.to_vec(),
        };
        let node = outbound::receipt_node(self.jid(), None, Some(chat.clone()), &spec)
            .ok_or_else(|| FakeWaError::UnknownMessage("a receipt needs an id".into()))?;
        for device in state.companions_of(&self.number) {
            state.delivery.enqueue(&device.jid, node.clone());
        }
        Ok(())
    }

    /// The user saves `contact` in the phone's address book: the change is a new
    /// app-state patch, and the companions are told to fetch it (`server_sync`).
    pub fn save_contact(&self, contact: &str, full_name: &str, first_name: &str) -> Result<()> {
        let version = self.save_contact_unannounced(contact, full_name, first_name)?;
        let mut state = self.shared.state();
        let id = state.message_id();
        let node = NodeBuilder::new("notification")
            .attr("from", server_jid())
            .attr("id", id)
            .attr("type", "server_sync")
            .attr("t", unix_now().to_string())
            .children([NodeBuilder::new("collection")
                .attr("name", crate::app_state::CONTACTS)
                .attr("version", version.to_string())
                .build()])
            .build();
        for device in state.companions_of(&self.number) {
            state.delivery.enqueue(&device.jid, node.clone());
        }
        Ok(())
    }

    /// Switches the phone off (or on): an offline phone answers no peer request.
    pub fn set_offline(&self, offline: bool) -> Result<()> {
        self.shared.state().account_mut(&self.number)?.phone_offline = offline;
        Ok(())
    }

    /// Saves a contact without telling the companions (they see it at their next
    /// app-state sync); returns the collection's new version.
    pub fn save_contact_unannounced(
        &self,
        contact: &str,
        full_name: &str,
        first_name: &str,
    ) -> Result<u64> {
        let mut state = self.shared.state();
        let jid = Jid::pn(contact).to_string();
        Ok(state
            .account_mut(&self.number)?
            .app_state
            .save_contact(&jid, full_name, first_name))
    }

    /// A receipt from the phone itself (own JID, device 0), the signal that
    /// the phone is alive.
    pub fn send_receipt(&self, chat: &Jid, ids: &[String]) -> Result<()> {
        let mut state = self.shared.state();
        let spec = outbound::ReceiptSpec {
            kind: None,
            ids: ids.to_vec(),
        };
        let node = outbound::receipt_node(
            Jid::pn_device(self.number.as_str(), 0),
            None,
            Some(chat.clone()),
            &spec,
        )
        .ok_or_else(|| FakeWaError::UnknownMessage("a receipt needs an id".into()))?;
        for device in state.companions_of(&self.number) {
            state.delivery.enqueue(&device.jid, node.clone());
        }
        Ok(())
    }
}

/// Removes a companion and everything the server held for it.
pub(crate) fn forget_device(state: &mut State, device: &Jid) {
    let device = Jid::pn_device(device.user.as_str(), device.device);
    state.devices.retain(|known| known.jid != device);
    state
        .device_keys
        .remove(&crate::delivery::device_key(&device));
    state.delivery.forget(&device);
    let remote = crate::signal::address(device.user.as_str(), device.device);
    for account in state.accounts.values_mut() {
        account.primary.forget_session(&remote);
    }
    for group in state.groups.values_mut() {
        group
            .skdm_sent
            .retain(|(_, key)| *key != crate::delivery::device_key(&device));
    }
}

/// What the phone does for a companion that just uploaded its keys: it
/// shares the app-state key, and sends the push names (its own first), so
/// the companion stops waiting for either.
pub(crate) fn welcome(shared: &Shared, device: &Jid) {
    let mut state = shared.state();
    if !state.welcome_new_devices {
        return;
    }
    let number = device.user.to_string();
    let outcome = (|| -> Result<()> {
        let account = state.account(&number)?;
        let key_share = crate::history::app_state_key_share(
            &account.app_state.key_id,
            &account.app_state.key_data,
        );
        outbound::send_peer(&mut state, &number, &key_share)?;
        let mut script = HistorySyncScript::new(crate::history::HistorySyncType::PUSH_NAME);
        let own = state.account(&number)?.push_name.clone();
        script.push_names.push((number.clone(), own));
        let sync = crate::history::build(&state, &script);
        let compressed = crate::history::compress(&sync)?;
        let message = crate::history::notification(
            &mut state.media,
            &script,
            compressed,
            HistoryDelivery::Inline,
        )?;
        outbound::send_peer(&mut state, &number, &message)?;
        Ok(())
    })();
    if let Err(err) = outcome {
        log::warn!("phone {number}: could not welcome {device}: {err}");
    }
}
