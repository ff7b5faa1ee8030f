//! One client connection: WebSocket upgrade, Noise handshake, then encrypted
//! frames in both directions until either side hangs up.

use crate::error::{FakeWaError, Result};
use crate::frame::{FrameReader, encode_frame};
use crate::node;
use crate::noise::{FirstReply, ServerIdentity, respond_to_client_hello};
use crate::session::{Action, Session};
use crate::state::{ConnCommand, ConnEntry, ConnId, ServerEvent, Shared};
use crate::transport::NoiseTransport;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::StatusCode;

const CHAT_PATH: &str = "/ws/chat";

type Sink = SplitSink<WebSocketStream<TcpStream>, Message>;
type Source = SplitStream<WebSocketStream<TcpStream>>;

pub(crate) async fn serve(shared: Arc<Shared>, stream: TcpStream) {
    if let Err(err) = run(shared, stream).await {
        log::debug!("connection ended: {err}");
    }
}

#[allow(clippy::result_large_err)] // the signature is fixed by tungstenite's callback
fn only_chat_path(
    request: &Request,
    response: Response,
) -> std::result::Result<Response, ErrorResponse> {
    if request.uri().path() == CHAT_PATH {
        Ok(response)
    } else {
        let mut refusal = ErrorResponse::new(None);
        *refusal.status_mut() = StatusCode::NOT_FOUND;
        Err(refusal)
    }
}

async fn run(shared: Arc<Shared>, stream: TcpStream) -> Result<()> {
    let ws = tokio_tungstenite::accept_hdr_async(stream, only_chat_path).await?;
    let (mut sink, mut source) = ws.split();
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
            source,
            frames,
            commands,
        )
        .await
    }
    .await;

    shared.state().conns.remove(&conn);
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
            refs: Vec::new(),
            code_request: None,
            commands,
        },
    );
    conn
}

/// The encrypted half of the connection.
struct Link {
    sink: Sink,
    transport: NoiseTransport,
}

impl Link {
    async fn send_node(&mut self, node: &wacore_binary::Node) -> Result<()> {
        let plaintext = node::encode(node)?;
        let ciphertext = self.transport.encrypt(&plaintext)?;
        send_frame(&mut self.sink, &ciphertext).await
    }

    /// Performs the actions; `true` when the connection must end.
    async fn apply(&mut self, actions: Vec<Action>) -> Result<bool> {
        for action in actions {
            match action {
                Action::Send(node) => self.send_node(&node).await?,
                Action::Close => {
                    // Best effort: the point is that the socket goes away.
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
    mut source: Source,
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

async fn next_frame(source: &mut Source, frames: &mut FrameReader) -> Result<Vec<u8>> {
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

async fn send_frame(sink: &mut Sink, payload: &[u8]) -> Result<()> {
    sink.send(Message::Binary(encode_frame(payload)?.into()))
        .await?;
    Ok(())
}
