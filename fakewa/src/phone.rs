//! The fake user's phone, as the test drives it.

use crate::adv;
use crate::error::{FakeWaError, Result};
use crate::link_code::{PrimaryHello, unwrap_with_code, wrap_with_code};
use crate::node::{iq_reply, server_jid, unix_now};
use crate::qr::QrCode;
use crate::state::{ConnCommand, ConnId, DeviceRecord, PendingPair, PhoneAccount, Shared};
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
    pub(crate) fn new(shared: Arc<Shared>, number: &str) -> Self {
        shared
            .state()
            .phones
            .entry(number.to_owned())
            .or_insert_with(|| PhoneAccount {
                // A LID is an opaque number unrelated to the phone number.
                lid_user: (100_000_000_000_000u64 + rand::random::<u64>() % 900_000_000_000_000)
                    .to_string(),
                account_key: KeyPair::generate(&mut rand::rng()),
                next_device: 1,
                next_key_index: 1,
            });
        Self {
            shared,
            number: number.to_owned(),
        }
    }

    pub fn jid(&self) -> Jid {
        Jid::pn(self.number.as_str())
    }

    pub fn lid(&self) -> Jid {
        let state = self.shared.state();
        let lid_user = state
            .phones
            .get(&self.number)
            .map(|account| account.lid_user.clone())
            .unwrap_or_default();
        Jid::lid(lid_user)
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
            let account = state
                .phones
                .get(&self.number)
                .ok_or(FakeWaError::Pairing("unknown phone".into()))?;
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
    shared
        .state()
        .phones
        .get(number)
        .map(|account| account.account_key.clone())
        .ok_or(FakeWaError::Pairing("unknown phone".into()))
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
        let account = state
            .phones
            .get_mut(number)
            .ok_or(FakeWaError::Pairing("unknown phone".into()))?;
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
        },
    };
    Ok((node, pending, PairingStarted { conn, jid, lid }))
}
