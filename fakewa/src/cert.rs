//! The fake server's own Noise certificate chain: root → intermediate → leaf,
//! each step an XEdDSA signature over the protobuf-encoded details, the way
//! WhatsApp signs its chain. Clients that pin WhatsApp's root must be told to
//! trust [`CertAuthority::root_public_key`] instead.

use crate::error::Result;
use buffa::Message;
use wacore_libsignal::protocol::KeyPair;
use waproto::whatsapp::{self as wa, cert_chain::noise_certificate};

/// Serial numbers of the two certificates; the intermediate's issuer is the
/// root, which WhatsApp identifies with serial 0.
const ROOT_SERIAL: u32 = 0;
const INTERMEDIATE_SERIAL: u32 = 1;
const LEAF_SERIAL: u32 = 2;

/// Validity window wide enough that no test run falls outside it.
const NOT_BEFORE: u64 = 1_600_000_000;
const NOT_AFTER: u64 = 4_000_000_000;

/// A root and an intermediate key, generated per server.
pub struct CertAuthority {
    root: KeyPair,
    intermediate: KeyPair,
}

impl CertAuthority {
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        Self {
            root: KeyPair::generate(&mut rng),
            intermediate: KeyPair::generate(&mut rng),
        }
    }

    /// The key a client must pin in place of WhatsApp's root.
    pub fn root_public_key(&self) -> [u8; 32] {
        key_bytes(&self.root)
    }

    /// The encoded `CertChain` whose leaf certifies `server_static_pub`.
    pub fn chain_for(&self, server_static_pub: &[u8; 32]) -> Result<Vec<u8>> {
        let intermediate = certificate(
            &self.root,
            noise_certificate::Details {
                serial: Some(INTERMEDIATE_SERIAL),
                issuer_serial: Some(ROOT_SERIAL),
                key: Some(key_bytes(&self.intermediate).to_vec()),
                not_before: Some(NOT_BEFORE),
                not_after: Some(NOT_AFTER),
            },
        )?;
        let leaf = certificate(
            &self.intermediate,
            noise_certificate::Details {
                serial: Some(LEAF_SERIAL),
                issuer_serial: Some(INTERMEDIATE_SERIAL),
                key: Some(server_static_pub.to_vec()),
                not_before: Some(NOT_BEFORE),
                not_after: Some(NOT_AFTER),
            },
        )?;
        let chain = wa::CertChain {
            intermediate: buffa::MessageField::some(intermediate),
            leaf: buffa::MessageField::some(leaf),
        };
        Ok(chain.encode_to_vec())
    }
}

fn certificate(
    issuer: &KeyPair,
    details: noise_certificate::Details,
) -> Result<wa::cert_chain::NoiseCertificate> {
    let details = details.encode_to_vec();
    let signature = issuer.calculate_signature(&details, &mut rand::rng())?;
    Ok(wa::cert_chain::NoiseCertificate {
        details: Some(details),
        signature: Some(signature.to_vec()),
    })
}

/// The raw 32-byte Curve25519 public key (no 0x05 type prefix).
pub(crate) fn key_bytes(pair: &KeyPair) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(pair.public_key.public_key_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use wacore_libsignal::protocol::PublicKey;

    fn decode_details(bytes: &[u8]) -> noise_certificate::Details {
        noise_certificate::Details::decode_from_slice(bytes).unwrap_or_default()
    }

    #[test]
    fn chain_verifies_from_root_to_leaf() -> Result<()> {
        let ca = CertAuthority::generate();
        let server_static = [9u8; 32];
        let chain = wa::CertChain::decode_from_slice(&ca.chain_for(&server_static)?)?;

        let intermediate = chain.intermediate.as_option().cloned().unwrap_or_default();
        let leaf = chain.leaf.as_option().cloned().unwrap_or_default();
        let intermediate_details_bytes = intermediate.details.unwrap_or_default();
        let leaf_details_bytes = leaf.details.unwrap_or_default();

        let root = PublicKey::from_djb_public_key_bytes(&ca.root_public_key())?;
        assert!(root.verify_signature(
            &intermediate_details_bytes,
            &intermediate.signature.unwrap_or_default()
        ));

        let intermediate_details = decode_details(&intermediate_details_bytes);
        assert_eq!(intermediate_details.issuer_serial, Some(0));
        let intermediate_key =
            PublicKey::from_djb_public_key_bytes(&intermediate_details.key.unwrap_or_default())?;
        assert!(
            intermediate_key
                .verify_signature(&leaf_details_bytes, &leaf.signature.unwrap_or_default())
        );

        let leaf_details = decode_details(&leaf_details_bytes);
        assert_eq!(leaf_details.key.as_deref(), Some(&server_static[..]));
        assert_eq!(leaf_details.issuer_serial, intermediate_details.serial);
        Ok(())
    }

    #[test]
    fn another_root_does_not_verify_the_chain() -> Result<()> {
        let ca = CertAuthority::generate();
        let stranger = CertAuthority::generate();
        let chain = wa::CertChain::decode_from_slice(&ca.chain_for(&[1u8; 32])?)?;
        let intermediate = chain.intermediate.as_option().cloned().unwrap_or_default();
        let root = PublicKey::from_djb_public_key_bytes(&stranger.root_public_key())?;
        assert!(!root.verify_signature(
            &intermediate.details.unwrap_or_default(),
            &intermediate.signature.unwrap_or_default()
        ));
        Ok(())
    }
}
