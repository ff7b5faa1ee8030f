//! The server side of WhatsApp's Noise handshakes.
//!
//! A fresh client speaks XX. A client that cached our static key from an
//! earlier XX reconnects with IK (its static key and login payload ride in
//! the first message); if it cached a key we no longer hold, we answer with
//! XXfallback, reusing the ephemeral key it already sent.

use crate::cert::key_bytes;
use crate::error::{FakeWaError, Result};
use crate::transport::NoiseTransport;
use buffa::Message;
use wacore_binary::consts::{
    NOISE_PATTERN_IK, NOISE_PATTERN_XX, NOISE_PATTERN_XXFALLBACK, WA_CONN_HEADER,
};
use wacore_libsignal::protocol::KeyPair;
use wacore_noise::NoiseHandshake;
use waproto::whatsapp::{self as wa, handshake_message};

/// Which Noise pattern a connection completed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HandshakePattern {
    Xx,
    Ik,
    XxFallback,
}

/// What the server holds to answer handshakes.
pub struct ServerIdentity<'a> {
    pub static_key: &'a KeyPair,
    pub cert_chain: &'a [u8],
}

/// A finished handshake: who the client is and what it asked for.
pub struct Established {
    pub pattern: HandshakePattern,
    pub client_static: [u8; 32],
    /// The encoded `ClientPayload` (registration or login).
    pub client_payload: Vec<u8>,
    pub transport: NoiseTransport,
}

/// The server's answer to the client's first handshake message.
pub enum FirstReply {
    /// IK: the handshake is complete once `server_hello` is sent.
    Complete {
        server_hello: Vec<u8>,
        established: Established,
    },
    /// XX and XXfallback: the client still owes its `ClientFinish`.
    AwaitFinish {
        server_hello: Vec<u8>,
        pending: PendingFinish,
    },
}

/// Responder state between ServerHello and ClientFinish.
pub struct PendingFinish {
    noise: NoiseHandshake,
    ephemeral: KeyPair,
    pattern: HandshakePattern,
}

/// Answers the client's first message (`HandshakeMessage{clientHello}`).
pub fn respond_to_client_hello(server: &ServerIdentity<'_>, message: &[u8]) -> Result<FirstReply> {
    let hello = wa::HandshakeMessage::decode_from_slice(message)?
        .client_hello
        .into_option()
        .ok_or(FakeWaError::MissingField("clientHello"))?;
    let client_ephemeral = to_key(
        hello
            .ephemeral
            .as_deref()
            .ok_or(FakeWaError::MissingField("clientHello.ephemeral"))?,
        "client ephemeral",
    )?;

    match (hello.r#static.as_deref(), hello.payload.as_deref()) {
        (Some(encrypted_static), Some(encrypted_payload)) => {
            match try_ik(
                server,
                &client_ephemeral,
                encrypted_static,
                encrypted_payload,
            ) {
                Ok(reply) => Ok(reply),
                Err(err) => {
                    // The client pinned a static key we do not hold (or sent
                    // garbage): XXfallback lets it learn our current key.
                    log::debug!("IK rejected ({err}); answering with XXfallback");
                    start_xx(server, &client_ephemeral, HandshakePattern::XxFallback)
                }
            }
        }
        _ => start_xx(server, &client_ephemeral, HandshakePattern::Xx),
    }
}

fn start_xx(
    server: &ServerIdentity<'_>,
    client_ephemeral: &[u8; 32],
    pattern: HandshakePattern,
) -> Result<FirstReply> {
    let pattern_name = match pattern {
        HandshakePattern::XxFallback => NOISE_PATTERN_XXFALLBACK,
        _ => NOISE_PATTERN_XX,
    };
    let mut noise = NoiseHandshake::new(pattern_name, &WA_CONN_HEADER)?;
    noise.authenticate(client_ephemeral);

    let ephemeral = KeyPair::generate(&mut rand::rng());
    let ephemeral_pub = key_bytes(&ephemeral);
    noise.authenticate(&ephemeral_pub);
    noise.mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)?;
    let encrypted_static = noise.encrypt(&key_bytes(server.static_key))?;
    noise.mix_shared_secret(server.static_key.private_key.serialize(), client_ephemeral)?;
    let encrypted_chain = noise.encrypt(server.cert_chain)?;

    let server_hello = server_hello(ephemeral_pub, Some(encrypted_static), encrypted_chain);
    Ok(FirstReply::AwaitFinish {
        server_hello,
        pending: PendingFinish {
            noise,
            ephemeral,
            pattern,
        },
    })
}

impl PendingFinish {
    /// Reads `HandshakeMessage{clientFinish}` and completes the handshake.
    pub fn read_client_finish(mut self, message: &[u8]) -> Result<Established> {
        let finish = wa::HandshakeMessage::decode_from_slice(message)?
            .client_finish
            .into_option()
            .ok_or(FakeWaError::MissingField("clientFinish"))?;
        let encrypted_static = finish
            .r#static
            .as_deref()
            .ok_or(FakeWaError::MissingField("clientFinish.static"))?;
        let encrypted_payload = finish
            .payload
            .as_deref()
            .ok_or(FakeWaError::MissingField("clientFinish.payload"))?;

        let client_static = to_key(&self.noise.decrypt(encrypted_static)?, "client static")?;
        self.noise
            .mix_shared_secret(self.ephemeral.private_key.serialize(), &client_static)?;
        let client_payload = self.noise.decrypt(encrypted_payload)?;
        Ok(Established {
            pattern: self.pattern,
            client_static,
            client_payload,
            transport: NoiseTransport::from_handshake(self.noise)?,
        })
    }
}

fn try_ik(
    server: &ServerIdentity<'_>,
    client_ephemeral: &[u8; 32],
    encrypted_static: &[u8],
    encrypted_payload: &[u8],
) -> Result<FirstReply> {
    let static_priv = server.static_key.private_key.serialize();
    let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER)?;
    noise.authenticate(&key_bytes(server.static_key));
    noise.authenticate(client_ephemeral);
    noise.mix_shared_secret(static_priv, client_ephemeral)?;
    let client_static = to_key(&noise.decrypt(encrypted_static)?, "client static")?;
    noise.mix_shared_secret(static_priv, &client_static)?;
    let client_payload = noise.decrypt(encrypted_payload)?;

    let ephemeral = KeyPair::generate(&mut rand::rng());
    let ephemeral_pub = key_bytes(&ephemeral);
    noise.authenticate(&ephemeral_pub);
    noise.mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)?;
    noise.mix_shared_secret(ephemeral.private_key.serialize(), &client_static)?;
    let encrypted_chain = noise.encrypt(server.cert_chain)?;

    // No `static` in the reply: that absence is what tells the client IK held.
    let server_hello = server_hello(ephemeral_pub, None, encrypted_chain);
    Ok(FirstReply::Complete {
        server_hello,
        established: Established {
            pattern: HandshakePattern::Ik,
            client_static,
            client_payload,
            transport: NoiseTransport::from_handshake(noise)?,
        },
    })
}

fn server_hello(
    ephemeral: [u8; 32],
    encrypted_static: Option<Vec<u8>>,
    payload: Vec<u8>,
) -> Vec<u8> {
    wa::HandshakeMessage {
        server_hello: buffa::MessageField::some(handshake_message::ServerHello {
            ephemeral: Some(ephemeral.to_vec()),
            r#static: encrypted_static,
            payload: Some(payload),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

fn to_key(bytes: &[u8], name: &'static str) -> Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| FakeWaError::BadKeyLength(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::CertAuthority;
    use wacore_noise::{
        IkHandshakeState, IkServerHelloOutcome, XxFallbackHandshakeState, XxHandshakeState,
    };

    struct Fixture {
        static_key: KeyPair,
        chain: Vec<u8>,
    }

    impl Fixture {
        fn new() -> Result<Self> {
            let static_key = KeyPair::generate(&mut rand::rng());
            let chain = CertAuthority::generate().chain_for(&key_bytes(&static_key))?;
            Ok(Self { static_key, chain })
        }

        fn identity(&self) -> ServerIdentity<'_> {
            ServerIdentity {
                static_key: &self.static_key,
                cert_chain: &self.chain,
            }
        }
    }

    /// Both directions of the transport must agree after a handshake.
    fn assert_transport_works(
        server: &mut NoiseTransport,
        client_write: &wacore_noise::NoiseCipher,
        client_read: &wacore_noise::NoiseCipher,
    ) -> Result<()> {
        let to_server = client_write.encrypt_with_counter(0, b"ping")?;
        assert_eq!(server.decrypt(&to_server)?, b"ping");
        let mut to_client = server.encrypt(b"pong")?;
        client_read.decrypt_in_place_with_counter(0, &mut to_client)?;
        assert_eq!(to_client, b"pong");
        Ok(())
    }

    #[test]
    fn xx_handshake_with_the_real_initiator() -> Result<()> {
        let fixture = Fixture::new()?;
        let client_static = KeyPair::generate(&mut rand::rng());
        let mut client =
            XxHandshakeState::new(client_static.clone(), b"login".to_vec(), &WA_CONN_HEADER)?;

        let reply = respond_to_client_hello(&fixture.identity(), &client.build_client_hello()?)?;
        let FirstReply::AwaitFinish {
            server_hello,
            pending,
        } = reply
        else {
            panic!("XX must wait for the client's finish");
        };
        let finish = client.read_server_hello_and_build_client_finish(&server_hello)?;
        let mut established = pending.read_client_finish(&finish)?;
        let outcome = client.finish()?;

        assert_eq!(established.pattern, HandshakePattern::Xx);
        assert_eq!(established.client_static, key_bytes(&client_static));
        assert_eq!(established.client_payload, b"login");
        assert_eq!(
            outcome.server_cert_chain.leaf_key,
            key_bytes(&fixture.static_key)
        );
        assert_transport_works(
            &mut established.transport,
            &outcome.write_cipher,
            &outcome.read_cipher,
        )
    }

    #[test]
    fn ik_with_the_cached_static_key_completes_in_one_round_trip() -> Result<()> {
        let fixture = Fixture::new()?;
        let client_static = KeyPair::generate(&mut rand::rng());
        let mut client = IkHandshakeState::new(
            client_static.clone(),
            key_bytes(&fixture.static_key),
            b"0-rtt login".to_vec(),
            &WA_CONN_HEADER,
        )?;

        let reply = respond_to_client_hello(&fixture.identity(), &client.build_client_hello()?)?;
        let FirstReply::Complete {
            server_hello,
            mut established,
        } = reply
        else {
            panic!("IK with the right key must complete at once");
        };
        assert_eq!(established.pattern, HandshakePattern::Ik);
        assert_eq!(established.client_payload, b"0-rtt login");
        assert_eq!(established.client_static, key_bytes(&client_static));

        let IkServerHelloOutcome::Continue(outcome) = client.read_server_hello(&server_hello)?
        else {
            panic!("the client must accept the IK answer");
        };
        assert_transport_works(
            &mut established.transport,
            &outcome.write_cipher,
            &outcome.read_cipher,
        )
    }

    #[test]
    fn ik_with_a_stale_static_key_falls_back_to_xxfallback() -> Result<()> {
        let fixture = Fixture::new()?;
        let stale = KeyPair::generate(&mut rand::rng());
        let client_static = KeyPair::generate(&mut rand::rng());
        let mut client = IkHandshakeState::new(
            client_static.clone(),
            key_bytes(&stale),
            b"payload".to_vec(),
            &WA_CONN_HEADER,
        )?;

        let reply = respond_to_client_hello(&fixture.identity(), &client.build_client_hello()?)?;
        let FirstReply::AwaitFinish {
            server_hello,
            pending,
        } = reply
        else {
            panic!("a stale key must lead to XXfallback");
        };
        let IkServerHelloOutcome::Fallback(inputs) = client.read_server_hello(&server_hello)?
        else {
            panic!("the client must see a fallback answer");
        };
        let mut fallback = XxFallbackHandshakeState::from_ik_failure(*inputs, &WA_CONN_HEADER)?;
        let finish = fallback.build_client_finish()?;
        let mut established = pending.read_client_finish(&finish)?;
        let outcome = fallback.finish()?;

        assert_eq!(established.pattern, HandshakePattern::XxFallback);
        assert_eq!(established.client_static, key_bytes(&client_static));
        assert_eq!(established.client_payload, b"payload");
        assert_transport_works(
            &mut established.transport,
            &outcome.write_cipher,
            &outcome.read_cipher,
        )
    }

    #[test]
    fn a_tampered_client_finish_is_an_error_not_a_panic() -> Result<()> {
        let fixture = Fixture::new()?;
        let mut client = XxHandshakeState::new(
            KeyPair::generate(&mut rand::rng()),
            b"x".to_vec(),
            &WA_CONN_HEADER,
        )?;
        let FirstReply::AwaitFinish {
            server_hello,
            pending,
        } = respond_to_client_hello(&fixture.identity(), &client.build_client_hello()?)?
        else {
            panic!("XX must wait for the client's finish");
        };
        let mut finish = client.read_server_hello_and_build_client_finish(&server_hello)?;
        let last = finish.len() - 1;
        finish[last] ^= 1;
        assert!(pending.read_client_finish(&finish).is_err());
        Ok(())
    }
}
