//! The server's half of linking by code: `companion_hello` and `companion_finish`.

use super::{Action, Session};
use crate::error::{FakeWaError, Result};
use crate::link_code::CodeRequest;
use crate::node::{attr, bytes, child, iq_error, iq_reply, iq_result};
use crate::state::ServerEvent;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

impl Session {
    pub(super) fn on_link_code(&mut self, id: &str, iq: &Node) -> Vec<Action> {
        let Some(reg) = child(iq, "link_code_companion_reg") else {
            return vec![Action::Send(iq_error(id, 400, "bad-request"))];
        };
        let result = match attr(reg, "stage").as_deref() {
            Some("companion_hello") => self.companion_hello(id, reg),
            Some("companion_finish") => self.companion_finish(id, reg),
            other => Err(FakeWaError::Pairing(format!("unknown stage {other:?}"))),
        };
        result.unwrap_or_else(|err| {
            log::info!("conn {}: link code refused: {err}", self.conn);
            self.shared.emit(ServerEvent::PairingFailed {
                conn: self.conn,
                reason: err.to_string(),
            });
            vec![Action::Send(iq_error(id, 400, "bad-request"))]
        })
    }

    fn companion_hello(&mut self, id: &str, reg: &Node) -> Result<Vec<Action>> {
        let number = attr(reg, "jid")
            .and_then(|jid| jid.split('@').next().map(str::to_owned))
            .unwrap_or_default();
        // The rules real WhatsApp (and whatsmeow) apply to the number.
        if number.len() < 7
            || number.starts_with('0')
            || !number.chars().all(|c| c.is_ascii_digit())
        {
            return Err(FakeWaError::Pairing(format!("bad phone number {number:?}")));
        }
        let auth_key = child(reg, "companion_server_auth_key_pub").and_then(bytes);
        if auth_key != Some(&self.client_static[..]) {
            return Err(FakeWaError::Pairing(
                "companion_server_auth_key_pub is not the Noise static key".into(),
            ));
        }
        let wrapped = child(reg, "link_code_pairing_wrapped_companion_ephemeral_pub")
            .and_then(bytes)
            .ok_or(FakeWaError::MissingField("wrapped companion ephemeral"))?
            .to_vec();
        let pairing_ref = STANDARD.encode(rand::random::<[u8; 16]>());
        if let Some(entry) = self.shared.state().conns.get_mut(&self.conn) {
            entry.code_request = Some(CodeRequest {
                number: number.clone(),
                wrapped_companion_ephemeral: wrapped,
                pairing_ref: pairing_ref.clone(),
            });
        }
        self.shared.emit(ServerEvent::PairCodeRequested {
            conn: self.conn,
            number,
        });
        let reply = iq_reply(id, "result")
            .children([NodeBuilder::new("link_code_companion_reg")
                .children([NodeBuilder::new("link_code_pairing_ref")
                    .bytes(pairing_ref.into_bytes())
                    .build()])
                .build()])
            .build();
        Ok(vec![Action::Send(reply)])
    }

    fn companion_finish(&mut self, id: &str, reg: &Node) -> Result<Vec<Action>> {
        let hello = self.primary_hello.take().ok_or(FakeWaError::Pairing(
            "companion_finish before primary_hello".into(),
        ))?;
        let pairing_ref = child(reg, "link_code_pairing_ref").and_then(bytes);
        if pairing_ref != Some(hello.pairing_ref.as_bytes()) {
            return Err(FakeWaError::Pairing(
                "companion_finish for another ref".into(),
            ));
        }
        let wrapped_bundle = child(reg, "link_code_pairing_wrapped_key_bundle")
            .and_then(bytes)
            .ok_or(FakeWaError::MissingField("wrapped key bundle"))?;
        let account = crate::phone::account_key(&self.shared, &hello.number)?;
        let opened = hello.open_key_bundle(&account, wrapped_bundle)?;
        let announced = child(reg, "companion_identity_public").and_then(bytes);
        if announced != Some(&opened.companion_identity[..]) {
            return Err(FakeWaError::Pairing(
                "companion_identity_public differs from the key bundle".into(),
            ));
        }
        let (node, pending, _) = crate::phone::pair_success(
            &self.shared,
            &hello.number,
            self.conn,
            self.client_static,
            &opened.companion_identity,
            &opened.adv_secret,
        )?;
        self.pending_pair = Some(pending);
        Ok(vec![Action::Send(iq_result(id)), Action::Send(node)])
    }
}
