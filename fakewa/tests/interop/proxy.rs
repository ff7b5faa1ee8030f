//! An HTTP CONNECT proxy that tunnels every CONNECT, whatever host it names,
//! to one address: how whatsmeow (which has no URL option) reaches the fake
//! server's TLS port, for its WebSocket and its media downloads alike.

use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest CONNECT request head accepted.
const MAX_HEAD: usize = 8 * 1024;

pub struct ConnectProxy {
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl ConnectProxy {
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Err(err) = tunnel(client, target).await {
                        log::debug!("proxy tunnel ended: {err}");
                    }
                });
            }
        });
        Ok(Self { addr, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tunnel(mut client: TcpStream, target: SocketAddr) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    // Read the request head byte by byte so nothing of the tunnelled
    // stream (the TLS ClientHello) is swallowed with it.
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() > MAX_HEAD || client.read(&mut byte).await? == 0 {
            return Ok(());
        }
        head.push(byte[0]);
    }
    if !head.starts_with(b"CONNECT ") {
        client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\n\r\n")
            .await?;
        return Ok(());
    }
    let mut server = TcpStream::connect(target).await?;
    client
        .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
        .await?;
    tokio::io::copy_bidirectional(&mut client, &mut server).await?;
    Ok(())
}
