//! The phone's half of linking with a code (`link_code_companion_reg`).
//!
//! Both sides wrap an ephemeral public key under a key stretched from the
//! 8-character code (PBKDF2 → AES-256-CTR); the companion then sends a key
//! bundle sealed with AES-GCM under a key derived from the ephemeral DH, and
//! both derive the new ADV secret from the two DHs and the companion's random.

use crate::cert::key_bytes;
use crate::error::{FakeWaError, Result};
use aes::cipher::{KeyIvInit, StreamCipher};
use wacore::crypto::hkdf_sha256_into;
use wacore::pair_code::PairCodeUtils;
use wacore_libsignal::crypto::aes_256_gcm_decrypt;
use wacore_libsignal::protocol::{KeyPair, PublicKey};

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

const SALT_LEN: usize = 32;
const CTR_IV_LEN: usize = 16;
const GCM_IV_LEN: usize = 12;
const WRAPPED_LEN: usize = SALT_LEN + CTR_IV_LEN + 32;
const BUNDLE_INFO: &[u8] = b"link_code_pairing_key_bundle_encryption_key";
const ADV_SECRET_INFO: &[u8] = b"adv_secret";

/// A companion asked to link by code (`companion_hello`).
#[derive(Debug, Clone)]
pub(crate) struct CodeRequest {
    pub number: String,
    pub wrapped_companion_ephemeral: Vec<u8>,
    pub pairing_ref: String,
}

/// The phone accepted the code (`primary_hello` sent); waits for `companion_finish`.
#[derive(Clone)]
pub(crate) struct PrimaryHello {
    pub number: String,
    pub pairing_ref: String,
    pub primary_ephemeral: KeyPair,
    pub companion_ephemeral: [u8; 32],
}

/// What the phone learns from `companion_finish`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct OpenedBundle {
    pub companion_identity: [u8; 32],
    pub adv_secret: [u8; 32],
}

/// The code as the PBKDF2 password: the 8 characters, without the dash a
/// client shows between the halves.
fn normalise(code: &str) -> String {
    code.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn ctr_apply(code: &str, salt: &[u8; SALT_LEN], iv: &[u8; CTR_IV_LEN], data: &mut [u8; 32]) {
    let key = PairCodeUtils::derive_key(&normalise(code), salt);
    let mut cipher = Aes256Ctr::new(&key.into(), &(*iv).into());
    cipher.apply_keystream(data);
}

/// `salt ‖ iv ‖ AES-CTR(PBKDF2(code, salt), iv, key)`.
pub(crate) fn wrap_with_code(key: &[u8; 32], code: &str) -> Vec<u8> {
    let salt: [u8; SALT_LEN] = rand::random();
    let iv: [u8; CTR_IV_LEN] = rand::random();
    let mut sealed = *key;
    ctr_apply(code, &salt, &iv, &mut sealed);
    [&salt[..], &iv, &sealed].concat()
}

pub(crate) fn unwrap_with_code(wrapped: &[u8], code: &str) -> Result<[u8; 32]> {
    if wrapped.len() != WRAPPED_LEN {
        return Err(FakeWaError::Pairing(format!(
            "wrapped key is {} bytes, expected {WRAPPED_LEN}",
            wrapped.len()
        )));
    }
    let mut salt = [0u8; SALT_LEN];
    let mut iv = [0u8; CTR_IV_LEN];
    let mut key = [0u8; 32];
    salt.copy_from_slice(&wrapped[..SALT_LEN]);
    iv.copy_from_slice(&wrapped[SALT_LEN..SALT_LEN + CTR_IV_LEN]);
    key.copy_from_slice(&wrapped[SALT_LEN + CTR_IV_LEN..]);
    ctr_apply(code, &salt, &iv, &mut key);
    Ok(key)
}

fn hkdf32(ikm: &[u8], salt: Option<&[u8]>, info: &[u8]) -> Result<[u8; 32]> {
    let mut out = [0u8; 32];
    hkdf_sha256_into(ikm, salt, info, &mut out)
        .map_err(|err| FakeWaError::Pairing(format!("hkdf: {err}")))?;
    Ok(out)
}

impl PrimaryHello {
    /// Opens `link_code_pairing_wrapped_key_bundle` (`salt ‖ iv ‖ AES-GCM`)
    /// and derives the ADV secret the companion switched to.
    pub fn open_key_bundle(&self, account: &KeyPair, wrapped: &[u8]) -> Result<OpenedBundle> {
        if wrapped.len() < SALT_LEN + GCM_IV_LEN {
            return Err(FakeWaError::Pairing("key bundle too short".into()));
        }
        let companion_ephemeral = PublicKey::from_djb_public_key_bytes(&self.companion_ephemeral)?;
        let ephemeral_shared = self
            .primary_ephemeral
            .calculate_agreement(&companion_ephemeral)?;
        let (salt, rest) = wrapped.split_at(SALT_LEN);
        let (iv, sealed) = rest.split_at(GCM_IV_LEN);
        let mut nonce = [0u8; GCM_IV_LEN];
        nonce.copy_from_slice(iv);
        let bundle_key = hkdf32(&ephemeral_shared, Some(salt), BUNDLE_INFO)?;
        let mut bundle = Vec::new();
        aes_256_gcm_decrypt(&bundle_key, &nonce, b"", sealed, &mut bundle)
            .map_err(|err| FakeWaError::Pairing(format!("key bundle does not open: {err}")))?;
        let [companion_identity, primary_identity, adv_random] = split_bundle(&bundle)?;
        if primary_identity != key_bytes(account) {
            return Err(FakeWaError::Pairing(
                "key bundle names another primary identity".into(),
            ));
        }
        let identity_shared = account
            .calculate_agreement(&PublicKey::from_djb_public_key_bytes(&companion_identity)?)?;
        let adv_secret = hkdf32(
            &[&ephemeral_shared[..], &identity_shared, &adv_random].concat(),
            None,
            ADV_SECRET_INFO,
        )?;
        Ok(OpenedBundle {
            companion_identity,
            adv_secret,
        })
    }
}

fn split_bundle(bundle: &[u8]) -> Result<[[u8; 32]; 3]> {
    if bundle.len() != 96 {
        return Err(FakeWaError::Pairing(format!(
            "key bundle holds {} bytes, expected 96",
            bundle.len()
        )));
    }
    let mut parts = [[0u8; 32]; 3];
    for (part, chunk) in parts.iter_mut().zip(bundle.chunks_exact(32)) {
        part.copy_from_slice(chunk);
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's own helpers play the companion, so both halves are checked
    /// against each other rather than against themselves.
    #[test]
    fn phone_and_real_companion_agree_on_the_adv_secret() -> Result<()> {
        let code = "ABCD2345";
        let companion_ephemeral = KeyPair::generate(&mut rand::rng());
        let companion_identity = KeyPair::generate(&mut rand::rng());
        let account = KeyPair::generate(&mut rand::rng());

        let wrapped = PairCodeUtils::encrypt_ephemeral_pub(&key_bytes(&companion_ephemeral), code);
        assert_eq!(
            unwrap_with_code(&wrapped, "ABCD-2345")?,
            key_bytes(&companion_ephemeral)
        );

        let hello = PrimaryHello {
            number: "15550001234".into(),
            pairing_ref: "ref".into(),
            primary_ephemeral: KeyPair::generate(&mut rand::rng()),
            companion_ephemeral: key_bytes(&companion_ephemeral),
        };
        let wrapped_primary = wrap_with_code(&key_bytes(&hello.primary_ephemeral), code);
        let seen_by_companion =
            PairCodeUtils::decrypt_primary_ephemeral_pub(&wrapped_primary, code)
                .map_err(|err| FakeWaError::Pairing(err.to_string()))?;
        assert_eq!(seen_by_companion, key_bytes(&hello.primary_ephemeral));

        let (bundle, companion_adv_secret) = PairCodeUtils::prepare_key_bundle(
            &companion_ephemeral,
            &seen_by_companion,
            &key_bytes(&account),
            &companion_identity,
        )
        .map_err(|err| FakeWaError::Pairing(err.to_string()))?;
        let opened = hello.open_key_bundle(&account, &bundle)?;
        assert_eq!(opened.adv_secret, companion_adv_secret);
        assert_eq!(opened.companion_identity, key_bytes(&companion_identity));
        Ok(())
    }

    #[test]
    fn a_wrong_code_does_not_recover_the_key() -> Result<()> {
        let key = [42u8; 32];
        let wrapped = wrap_with_code(&key, "ABCD2345");
        assert_ne!(unwrap_with_code(&wrapped, "ABCD2346")?, key);
        assert!(unwrap_with_code(&wrapped[..79], "ABCD2345").is_err());
        Ok(())
    }
}
