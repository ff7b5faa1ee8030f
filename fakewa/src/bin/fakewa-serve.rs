//! The fake WhatsApp server as a process, for a client that runs somewhere else (the
//! bridge in a container): `fakewa-serve [--listen IP[:PORT]]`.
//!
//! It speaks JSON lines. On start it prints `{"ready":{"url":…}}`. Then each line read
//! from standard input is a command, answered by one line:
//! - `{"scan":{"phone":"15550001234","qr":"2@…"}}` → the phone scans that QR code:
//!   `{"scanned":{"jid":…}}`, or `{"error":…}`.
//!
//! It also reports, as they happen, `{"paired":{"jid":…}}` and `{"logged_in":{"jid":…}}`.
//! It stops at the end of standard input.

use std::net::{IpAddr, Ipv4Addr};

use fakewa::{FakeServer, ServerEvent};
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (ip, port) = match listen_address(std::env::args().skip(1)) {
        Ok(address) => address,
        Err(message) => {
            eprintln!("fakewa-serve: {message}");
            std::process::exit(2);
        }
    };
    let server = match FakeServer::start_on(ip, port).await {
        Ok(server) => server,
        Err(err) => {
            eprintln!("fakewa-serve: cannot start on {ip}:{port}: {err}");
            std::process::exit(1);
        }
    };
    say(json!({"ready": {"url": server.url()}}));
    tokio::spawn(report(server.events()));
    let mut commands = standard_input_lines();
    while let Some(line) = commands.recv().await {
        if !line.trim().is_empty() {
            say(answer(&server, &line));
        }
    }
}

/// Standard input's lines, read on a thread of their own; the channel closes at its end.
fn standard_input_lines() -> mpsc::UnboundedReceiver<String> {
    let (lines, receiver) = mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            let line = match line {
                Ok(line) => line,
                Err(err) => {
                    eprintln!("fakewa-serve: standard input: {err}");
                    return;
                }
            };
            if lines.send(line).is_err() {
                return;
            }
        }
    });
    receiver
}

/// `--listen IP` or `--listen IP:PORT`; 127.0.0.1 and any free port without it.
fn listen_address(mut args: impl Iterator<Item = String>) -> Result<(IpAddr, u16), String> {
    let mut address = (IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
    while let Some(arg) = args.next() {
        if arg != "--listen" {
            return Err(format!(
                "unknown argument `{arg}`; usage: fakewa-serve [--listen IP[:PORT]]"
            ));
        }
        let value = args.next().ok_or("--listen needs IP or IP:PORT")?;
        address = match value.parse::<std::net::SocketAddr>() {
            Ok(socket) => (socket.ip(), socket.port()),
            Err(_) => (
                value
                    .parse()
                    .map_err(|_| format!("--listen `{value}` is neither IP nor IP:PORT"))?,
                0,
            ),
        };
    }
    Ok(address)
}

fn answer(server: &FakeServer, line: &str) -> Value {
    let command: Value = match serde_json::from_str(line) {
        Ok(command) => command,
        Err(err) => return json!({"error": format!("not JSON: {err}")}),
    };
    let Some(scan) = command.get("scan") else {
        return json!({"error": "unknown command; expected {\"scan\":{\"phone\":…,\"qr\":…}}"});
    };
    let (Some(phone), Some(qr)) = (scan["phone"].as_str(), scan["qr"].as_str()) else {
        return json!({"error": "scan needs the strings phone and qr"});
    };
    match server.phone(phone).and_then(|phone| phone.scan_qr(qr)) {
        Ok(started) => json!({"scanned": {"jid": started.jid.to_string()}}),
        Err(err) => json!({"error": err.to_string()}),
    }
}

async fn report(mut events: broadcast::Receiver<ServerEvent>) {
    loop {
        match events.recv().await {
            Ok(ServerEvent::Paired { jid, .. }) => say(json!({"paired": {"jid": jid.to_string()}})),
            Ok(ServerEvent::LoggedIn { jid, .. }) => {
                say(json!({"logged_in": {"jid": jid.to_string()}}))
            }
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}

fn say(line: Value) {
    println!("{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(IpAddr, u16), String> {
        listen_address(args.iter().map(|arg| arg.to_string()))
    }

    #[test]
    fn listen_address_takes_an_ip_with_or_without_a_port() {
        assert_eq!(parse(&[]), Ok((IpAddr::V4(Ipv4Addr::LOCALHOST), 0)));
        assert_eq!(
            parse(&["--listen", "172.17.0.1"]),
            Ok(("172.17.0.1".parse().unwrap(), 0))
        );
        assert_eq!(
            parse(&["--listen", "127.0.0.1:4000"]),
            Ok(("127.0.0.1".parse().unwrap(), 4000))
        );
        assert!(
            parse(&["--listen", "nowhere"])
                .unwrap_err()
                .contains("nowhere")
        );
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--port", "1"]).unwrap_err().contains("--port"));
    }
}
