//! One client connection: WebSocket upgrade, Noise handshake, then encrypted
//! frames in both directions until either side hangs up.

use crate::error::{FakeWaError, Result};
use crate::frame::{FrameReader, encode_frame};
use crate::node;
use crate::noise::{FirstReply, ServerIdentity, respond_to_client_hello};
use crate::session::{Action, Session};
use crate::state::{ConnCommand, ConnEntry, ConnId, ServerEvent, Shared};
use crate::transport::NoiseTransport;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

type WsError = tokio_tungstenite::tungstenite::Error;
/// The WebSocket halves, whatever transport (TCP or TLS) is under them.
type BoxSink = Pin<Box<dyn Sink<Message, Error = WsError> + Send>>;
type BoxSource = Pin<Box<dyn Stream<Item = std::result::Result<Message, WsError>> + Send>>;

pub(crate) async fn serve<S>(shared: Arc<Shared>, ws: S)
where
    S: Sink<Message, Error = WsError>
        + Stream<Item = std::result::Result<Message, WsError>>
        + Send
        + 'static,
{
    let (sink, source) = ws.split();
    if let Err(err) = run(shared, Box::pin(sink), Box::pin(source)).await {
        log::debug!("connection ended: {err}");
    }
}

async fn run(shared: Arc<Shared>, mut sink: BoxSink, mut source: BoxSource) -> Result<()> {
    let mut frames = FrameReader::new();

    let active = shared.active_keys();
    let identity = ServerIdentity {
        static_key: &active.keys.static_key,
        cert_chain: &active.cert_chain,
    };
    let hello = next_frame(&mut source, &mut frames).await?;
    let established = match respond_to_client_hello(&identity, &hello)? {
        FirstReply::Complete {
            server_hello,
            established,
        } => {
            send_frame(&mut sink, &server_hello).await?;
            established
        }
        FirstReply::AwaitFinish {
            server_hello,
            pending,
        } => {
            send_frame(&mut sink, &server_hello).await?;
            let finish = next_frame(&mut source, &mut frames).await?;
            pending.read_client_finish(&finish)?
        }
    };

    let (commands_tx, commands) = mpsc::unbounded_channel();
    let conn = register(&shared, established.client_static, commands_tx);
    shared.emit(ServerEvent::Handshake {
        conn,
        pattern: established.pattern,
    });
    let mut link = Link {
        sink,
        transport: established.transport,
        shared: shared.clone(),
        conn,
    };
    let mut session = Session::new(shared.clone(), conn, established.client_static);
    let result = async {
        let actions = session.on_client_payload(&established.client_payload)?;
        if link.apply(actions).await? {
            return Ok(());
        }
        pump(
            &shared,
            conn,
            &mut session,
            &mut link,
            &mut source,
            frames,
            commands,
        )
        .await
    }
    .await;

    {
        let mut state = shared.state();
        state.conns.remove(&conn);
        state.delivery.go_offline(conn);
    }
    linger(&mut source).await;
    let _ = link.sink.close().await;
    shared.emit(ServerEvent::Disconnected { conn });
    result
}

fn register(
    shared: &Shared,
    client_static: [u8; 32],
    commands: mpsc::UnboundedSender<ConnCommand>,
) -> ConnId {
    let mut state = shared.state();
    state.next_conn += 1;
    let conn = state.next_conn;
    state.conns.insert(
        conn,
        ConnEntry {
            client_static,
            device: None,
            refs: Vec::new(),
            code_request: None,
            commands,
        },
    );
    conn
}

/// The encrypted half of the connection.
struct Link {
    sink: BoxSink,
    transport: NoiseTransport,
    shared: Arc<Shared>,
    conn: ConnId,
}

impl Link {
    async fn send_node(&mut self, node: &wacore_binary::Node) -> Result<()> {
        let plaintext = node::encode(node)?;
        let ciphertext = self.transport.encrypt(&plaintext)?;
        send_frame(&mut self.sink, &ciphertext).await?;
        self.shared.emit(ServerEvent::Sent {
            conn: self.conn,
            node: node.clone(),
        });
        Ok(())
    }

    /// Performs the actions; `true` when the connection must end.
    async fn apply(&mut self, actions: Vec<Action>) -> Result<bool> {
        for action in actions {
            match action {
                Action::Send(node) => self.send_node(&node).await?,
                Action::SendRaw(bytes) => {
                    let ciphertext = self.transport.encrypt(&bytes)?;
                    send_frame(&mut self.sink, &ciphertext).await?;
                }
                Action::SendUnencrypted(bytes) => send_frame(&mut self.sink, &bytes).await?,
                Action::Hangup => {
                    let _ = self.sink.flush().await;
                    return Ok(true);
                }
                Action::Close => {
                    // Best effort: the point is that the socket goes away,
                    // after what was sent before it.
                    let _ = self.sink.flush().await;
                    let _ = self.sink.close().await;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

async fn pump(
    shared: &Shared,
    conn: ConnId,
    session: &mut Session,
    link: &mut Link,
    source: &mut BoxSource,
    mut frames: FrameReader,
    mut commands: mpsc::UnboundedReceiver<ConnCommand>,
) -> Result<()> {
    loop {
        tokio::select! {
            message = source.next() => {
                let Some(message) = message else { return Ok(()) };
                let Message::Binary(data) = message? else { continue };
                frames.feed(&data);
                while let Some(frame) = frames.next_frame()? {
                    let plaintext = link.transport.decrypt(&frame)?;
                    let node = node::decode(&plaintext)?;
                    shared.state().received.push((conn, node.clone()));
                    shared.emit(ServerEvent::Received { conn, node: node.clone() });
                    if link.apply(session.on_node(&node)).await? {
                        return Ok(());
                    }
                }
            }
            command = commands.recv() => {
                let actions = match command {
                    Some(ConnCommand::Send(node)) => vec![Action::Send(node)],
                    Some(ConnCommand::SendRawFrame(bytes)) => vec![Action::SendRaw(bytes)],
                    Some(ConnCommand::SendUnencryptedFrame(bytes)) => {
                        vec![Action::SendUnencrypted(bytes)]
                    }
                    Some(ConnCommand::Pair { node, pending }) => session.start_pairing(node, pending),
                    Some(ConnCommand::PrimaryHello { node, hello }) => session.primary_hello(node, hello),
                    Some(ConnCommand::End(end)) => session.end_stream(end),
                    Some(ConnCommand::Close) | None => vec![Action::Close],
                };
                if link.apply(actions).await? {
                    return Ok(());
                }
            }
        }
    }
}

/// Reads what the client still sends until it hangs up (or a moment has
/// passed): closing a socket with unread input makes the kernel reset it,
/// and the client would lose the last stanza (a `<stream:error>`, say).
async fn linger(source: &mut BoxSource) {
    let drain = async { while source.next().await.is_some() {} };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
}

async fn next_frame(source: &mut BoxSource, frames: &mut FrameReader) -> Result<Vec<u8>> {
    loop {
        if let Some(frame) = frames.next_frame()? {
            return Ok(frame);
        }
        match source.next().await {
            Some(message) => {
                if let Message::Binary(data) = message? {
                    frames.feed(&data);
                }
            }
            None => return Err(FakeWaError::ConnectionGone),
        }
    }
}

async fn send_frame(sink: &mut BoxSink, payload: &[u8]) -> Result<()> {
    sink.send(Message::Binary(encode_frame(payload)?.into()))
        .await?;
    Ok(())
}
