//! What the server does with one authenticated connection: answer the
//! registration or login payload, then the client's stanzas.

use crate::error::Result;
use crate::link_code::PrimaryHello;
use crate::node::{self, attr, child, iq_error, iq_reply, iq_result, server_jid};
mod app_state;
mod keys;
mod link_code;
mod message;
mod pairing;
mod prekeys;
mod receipts;
mod services;

use crate::script::{LoginFailure, StreamEnd};
use crate::state::{ConnId, PendingPair, ServerEvent, Shared};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use buffa::Message;
use std::sync::Arc;
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use waproto::whatsapp as wa;

/// Refs offered per registration; the client rotates through them (60 s for
/// the first, 20 s each after) before giving up.
pub(crate) const QR_REF_COUNT: usize = 6;

/// Restart-required code: sent after pairing so the client logs in afresh.
const STREAM_RESTART: u16 = 515;

/// What the connection loop must do on the session's behalf.
#[derive(Debug)]
pub(crate) enum Action {
    Send(Node),
    /// Bytes that are not a node, encrypted as a frame (malformed input).
    SendRaw(Vec<u8>),
    /// Bytes sent as a frame without encryption (a broken transport).
    SendUnencrypted(Vec<u8>),
    /// Hang up now, whatever the client is doing.
    Close,
    /// The session is over (a stream error, a refused login): let the
    /// client read the last stanza and hang up itself, as WhatsApp does;
    /// closing first races the client's handling of that stanza.
    Hangup,
}

pub(crate) struct Session {
    shared: Arc<Shared>,
    conn: ConnId,
    client_static: [u8; 32],
    jid: Option<Jid>,
    pending_pair: Option<PendingPair>,
    primary_hello: Option<PrimaryHello>,
    next_id: u64,
}

impl Session {
    pub fn new(shared: Arc<Shared>, conn: ConnId, client_static: [u8; 32]) -> Self {
        Self {
            shared,
            conn,
            client_static,
            jid: None,
            pending_pair: None,
            primary_hello: None,
            next_id: 0,
        }
    }

    fn stanza_id(&mut self) -> String {
        self.next_id += 1;
        format!("fakewa-{}-{}", self.conn, self.next_id)
    }

    /// Answers the `ClientPayload` the handshake carried.
    pub fn on_client_payload(&mut self, payload: &[u8]) -> Result<Vec<Action>> {
        let payload = wa::ClientPayload::decode_from_slice(payload)?;
        if let Some(pairing) = payload.device_pairing_data.as_option() {
            let device_name = pairing
                .device_props
                .as_deref()
                .and_then(|props| wa::DeviceProps::decode_from_slice(props).ok())
                .and_then(|props| props.os);
            Ok(vec![Action::Send(self.offer_qr_refs(device_name))])
        } else {
            Ok(self.log_in(payload.username, payload.device))
        }
    }

    fn offer_qr_refs(&mut self, device_name: Option<String>) -> Node {
        let count = self.shared.state().qr_refs;
        let refs: Vec<String> = (0..count)
            .map(|_| format!("2@{}", STANDARD.encode(rand::random::<[u8; 24]>())))
            .collect();
        if let Some(entry) = self.shared.state().conns.get_mut(&self.conn) {
            entry.refs.clone_from(&refs);
        }
        self.shared.emit(ServerEvent::PairDeviceSent {
            conn: self.conn,
            refs: refs.clone(),
            device_name,
        });
        let ref_nodes = refs.into_iter().map(|pairing_ref| {
            NodeBuilder::new("ref")
                .bytes(pairing_ref.into_bytes())
                .build()
        });
        iq_reply(&self.stanza_id(), "set")
            .attr("xmlns", "md")
            .children([NodeBuilder::new("pair-device").children(ref_nodes).build()])
            .build()
    }

    fn log_in(&mut self, username: Option<u64>, device: Option<u32>) -> Vec<Action> {
        let user = username
            .map(|number| number.to_string())
            .unwrap_or_default();
        let device = device.unwrap_or(0);
        let known = self
            .shared
            .state()
            .devices
            .iter()
            .find(|record| record.jid.user == user && u32::from(record.jid.device) == device)
            .cloned();
        let Some(record) = known else {
            return self.reject_login(
                LoginFailure::LoggedOut,
                format!("unknown device {user}:{device}"),
            );
        };
        if record.noise_public != self.client_static {
            return self.reject_login(
                LoginFailure::LoggedOut,
                format!("{user}:{device} used another noise key"),
            );
        }
        let scripted = self.shared.state().login_failures.pop_front();
        if let Some(failure) = scripted {
            if failure.unlinks() {
                self.forget_device(&record.jid);
            }
            return self.reject_login(failure, format!("scripted {failure:?}"));
        }
        self.jid = Some(record.jid.clone());
        let queued = {
            let mut state = self.shared.state();
            let commands = state.conns.get_mut(&self.conn).map(|entry| {
                entry.device = Some(record.jid.clone());
                entry.commands.clone()
            });
            match commands {
                Some(commands) => state.delivery.go_live(&record.jid, self.conn, commands),
                None => Vec::new(),
            }
        };
        self.shared.emit(ServerEvent::LoggedIn {
            conn: self.conn,
            jid: record.jid.clone(),
        });
        let now = node::unix_now().to_string();
        let success = NodeBuilder::new("success")
            .attr("t", now.clone())
            .attr("lid", record.lid.clone())
            .attr("props", "1")
            .attr("abprops", "1")
            .attr("location", "fake")
            .attr("creation", now)
            .build();
        // What waited for the device while it was away, then the end of
        // the offline queue (clients hold back sends until they see it).
        let offline_done = NodeBuilder::new("ib")
            .attr("from", server_jid())
            .children([NodeBuilder::new("offline")
                .attr("count", queued.len().to_string())
                .build()])
            .build();
        log::debug!(
            "conn {}: {} logged in, {} stanzas were waiting",
            self.conn,
            record.jid,
            queued.len()
        );
        let mut actions = vec![Action::Send(success)];
        actions.extend(queued.into_iter().map(Action::Send));
        actions.push(Action::Send(offline_done));
        actions
    }

    fn reject_login(&mut self, failure: LoginFailure, reason: String) -> Vec<Action> {
        log::info!("conn {}: login rejected: {reason}", self.conn);
        self.shared.emit(ServerEvent::LoginRejected {
            conn: self.conn,
            reason,
        });
        vec![Action::Send(failure.node()), Action::Hangup]
    }

    fn forget_device(&self, jid: &Jid) {
        crate::phone::forget_device(&mut self.shared.state(), jid);
    }

    /// Ends the stream the way the script says, then hangs up.
    pub fn end_stream(&mut self, end: StreamEnd) -> Vec<Action> {
        if end.unlinks()
            && let Some(jid) = self.jid.clone()
        {
            self.forget_device(&jid);
        }
        vec![Action::Send(end.node()), Action::Hangup]
    }

    /// The phone scanned this client's QR code: send `pair-success`.
    pub fn start_pairing(&mut self, node: Node, pending: PendingPair) -> Vec<Action> {
        self.pending_pair = Some(pending);
        vec![Action::Send(node)]
    }

    /// The phone accepted the pairing code: send `primary_hello`.
    pub fn primary_hello(&mut self, node: Node, hello: PrimaryHello) -> Vec<Action> {
        self.primary_hello = Some(hello);
        vec![Action::Send(node)]
    }

    pub fn on_node(&mut self, node: &Node) -> Vec<Action> {
        if self.shared.is_silent() {
            return Vec::new();
        }
        match node.tag.as_ref() {
            "iq" => self.on_iq(node),
            "message" => self.on_message(node),
            "receipt" => self.on_receipt(node),
            "ack" => self.on_ack(node),
            "presence" | "chatstate" => {
                if let Some(device) = self.jid.clone() {
                    self.shared.emit(ServerEvent::Presence {
                        device,
                        node: node.clone(),
                    });
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn on_iq(&mut self, node: &Node) -> Vec<Action> {
        let id = attr(node, "id").unwrap_or_default();
        let kind = attr(node, "type").unwrap_or_default();
        let xmlns = attr(node, "xmlns").unwrap_or_default();
        match (kind.as_str(), xmlns.as_str()) {
            ("result" | "error", _) => self.on_iq_answer(&id, &kind, node),
            ("get", "w:p") => vec![Action::Send(iq_result(&id))],
            ("get", "encrypt") if child(node, "count").is_some() => {
                vec![Action::Send(self.prekey_count(&id))]
            }
            ("get", "encrypt") if child(node, "digest").is_some() => self.key_digest(&id),
            ("get", "encrypt") => match child(node, "key") {
                Some(key) => self.prekey_bundles(&id, key),
                None => vec![Action::Send(iq_error(&id, 400, "bad-request"))],
            },
            ("set", "encrypt") => self.store_prekeys(&id, node),
            ("set", "passive") => vec![Action::Send(iq_result(&id))],
            ("set", "md") if child(node, "link_code_companion_reg").is_some() => {
                self.on_link_code(&id, node)
            }
            ("set", "md") if child(node, "remove-companion-device").is_some() => {
                self.remove_companion(&id, node)
            }
            ("set", "w:sync:app:state") => {
                let mut guard = self.shared.state();
                let state = &mut *guard;
                let account = self
                    .jid
                    .as_ref()
                    .and_then(|jid| state.accounts.get(jid.user.as_str()));
                let answer = app_state::app_state_answer(
                    &id,
                    node,
                    account.map(|account| &account.app_state),
                    &mut state.media,
                );
                vec![Action::Send(answer)]
            }
            ("get", "usync") => self.usync(&id, node),
            ("set", "w:m") if child(node, "media_conn").is_some() => self.media_conn(&id),
            ("get", "w:g2") => self.group_query(&id, node),
            ("get", "w:profile:picture") => self.profile_picture(&id, node),
            ("get", "privacy") => self.privacy_settings(&id),
            ("set", "privacy") => vec![Action::Send(iq_result(&id))],
            ("get", "abt") => self.props(&id),
            ("get", "blocklist") => self.blocklist(&id),
            _ => {
                log::info!(
                    "conn {}: unhandled iq type={kind} xmlns={xmlns}; answering 501",
                    self.conn
                );
                vec![Action::Send(iq_error(&id, 501, "feature-not-implemented"))]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::server::ServerKeys;
    use crate::state::ActiveKeys;

    fn session() -> Result<Session> {
        let shared = Arc::new(Shared::new(ActiveKeys::new(ServerKeys::generate()?)?));
        Ok(Session::new(shared, 1, [7u8; 32]))
    }

    fn iq(kind: &'static str, xmlns: &'static str, children: Vec<Node>) -> Node {
        NodeBuilder::new("iq")
            .attr("id", "q1")
            .attr("type", kind)
            .attr("xmlns", xmlns)
            .children(children)
            .build()
    }

    fn only_sent(actions: Vec<Action>) -> Node {
        match actions.as_slice() {
            [Action::Send(node)] => node.clone(),
            other => panic!("expected one node, got {other:?}"),
        }
    }

    #[test]
    fn keepalive_is_answered_with_the_same_id() -> Result<()> {
        let reply = only_sent(session()?.on_node(&iq("get", "w:p", vec![])));
        assert_eq!(attr(&reply, "type").as_deref(), Some("result"));
        assert_eq!(attr(&reply, "id").as_deref(), Some("q1"));
        Ok(())
    }

    #[test]
    fn a_silent_server_answers_nothing_until_it_speaks_again() -> Result<()> {
        let mut session = session()?;
        session.shared.set_silent(true);
        assert!(session.on_node(&iq("get", "w:p", vec![])).is_empty());
        session.shared.set_silent(false);
        let reply = only_sent(session.on_node(&iq("get", "w:p", vec![])));
        assert_eq!(attr(&reply, "type").as_deref(), Some("result"));
        Ok(())
    }

    #[test]
    fn a_message_from_a_connection_that_is_not_logged_in_is_refused() -> Result<()> {
        let message = NodeBuilder::new("message")
            .attr("id", "m1")
            .attr("to", Jid::pn("15550002001"))
            .build();
        let reply = only_sent(session()?.on_node(&message));
        assert_eq!(reply.tag, "ack");
        assert_eq!(attr(&reply, "error").as_deref(), Some("400"));
        Ok(())
    }

    #[test]
    fn an_unknown_iq_gets_an_error_instead_of_silence() -> Result<()> {
        let reply = only_sent(session()?.on_node(&iq("get", "w:nothing", vec![])));
        assert_eq!(attr(&reply, "type").as_deref(), Some("error"));
        let code = child(&reply, "error").and_then(|error| attr(error, "code"));
        assert_eq!(code.as_deref(), Some("501"));
        Ok(())
    }

    #[test]
    fn prekeys_are_counted_per_logged_in_device() -> Result<()> {
        let mut session = session()?;
        let key = |id: u8| {
            NodeBuilder::new("key")
                .children([
                    NodeBuilder::new("id").bytes(vec![0, 0, id]).build(),
                    NodeBuilder::new("value").bytes(vec![id; 32]).build(),
                ])
                .build()
        };
        let upload = iq(
            "set",
            "encrypt",
            vec![NodeBuilder::new("list").children([key(1), key(2)]).build()],
        );
        let refused = only_sent(session.on_node(&upload));
        assert_eq!(attr(&refused, "type").as_deref(), Some("error"));

        session.jid = Some(Jid::pn_device("15550001234", 1));
        let count = |session: &mut Session| {
            let reply = only_sent(session.on_node(&iq(
                "get",
                "encrypt",
                vec![NodeBuilder::new("count").build()],
            )));
            child(&reply, "count").and_then(|count| attr(count, "value"))
        };
        assert_eq!(count(&mut session).as_deref(), Some("0"));
        let stored = only_sent(session.on_node(&upload));
        assert_eq!(attr(&stored, "type").as_deref(), Some("result"));
        assert_eq!(count(&mut session).as_deref(), Some("2"));
        Ok(())
    }

    #[test]
    fn registration_is_offered_six_refs() -> Result<()> {
        let payload = wa::ClientPayload {
            device_pairing_data: buffa::MessageField::some(Default::default()),
            ..Default::default()
        };
        let reply = only_sent(session()?.on_client_payload(&payload.encode_to_vec())?);
        let refs = child(&reply, "pair-device")
            .map(|pair| pair.get_children_by_tag("ref").count())
            .unwrap_or(0);
        assert_eq!(refs, 6);
        assert_eq!(attr(&reply, "xmlns").as_deref(), Some("md"));
        Ok(())
    }

    #[test]
    fn an_unknown_device_is_refused_with_401_and_hung_up_on() -> Result<()> {
        let payload = wa::ClientPayload {
            username: Some(15550001234),
            device: Some(3),
            ..Default::default()
        };
        let actions = session()?.on_client_payload(&payload.encode_to_vec())?;
        match actions.as_slice() {
            [Action::Send(failure), Action::Hangup] => {
                assert_eq!(failure.tag, "failure");
                assert_eq!(attr(failure, "reason").as_deref(), Some("401"));
            }
            other => panic!("expected failure then close, got {other:?}"),
        }
        Ok(())
    }
}
