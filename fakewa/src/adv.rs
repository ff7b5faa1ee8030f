//! The phone's half of ADV (account-device verification): it vouches for a
//! new companion by signing the companion's identity key with the account key,
//! and later checks the companion's counter-signature.

use crate::cert::key_bytes;
use crate::error::{FakeWaError, Result};
use buffa::Message;
use wacore_libsignal::crypto::hmac_sha256;
use wacore_libsignal::protocol::{KeyPair, PublicKey};
use waproto::whatsapp as wa;

/// Prefix of the account signature (phone signs the companion).
const ACCOUNT_SIGNATURE_PREFIX: [u8; 2] = [6, 0];
/// Prefix of the device signature (companion signs back).
const DEVICE_SIGNATURE_PREFIX: [u8; 2] = [6, 1];

/// What the phone sent in `pair-success`, kept to check the companion's reply.
#[derive(Debug, Clone)]
pub struct Voucher {
    pub details: Vec<u8>,
    pub account_public: [u8; 32],
    pub companion_identity: [u8; 32],
    pub key_index: u32,
    /// `ADVSignedDeviceIdentityHMAC`, the content of `<device-identity>`.
    pub hmac_container: Vec<u8>,
}

/// Signs the companion in, as the phone does after scanning its QR code.
pub fn vouch(
    account: &KeyPair,
    companion_identity: &[u8; 32],
    adv_secret: &[u8],
    key_index: u32,
    timestamp: u64,
) -> Result<Voucher> {
    let details = wa::ADVDeviceIdentity {
        raw_id: Some(rand::random()),
        timestamp: Some(timestamp),
        key_index: Some(key_index),
        ..Default::default()
    }
    .encode_to_vec();
    let account_public = key_bytes(account);
    let signed_message = [&ACCOUNT_SIGNATURE_PREFIX[..], &details, companion_identity].concat();
    let account_signature = account.calculate_signature(&signed_message, &mut rand::rng())?;
    let signed = wa::ADVSignedDeviceIdentity {
        details: Some(details.clone()),
        account_signature_key: Some(account_public.to_vec()),
        account_signature: Some(account_signature.to_vec()),
        device_signature: None,
    }
    .encode_to_vec();
    let hmac = hmac_sha256(adv_secret, &signed);
    let hmac_container = wa::ADVSignedDeviceIdentityHMAC {
        details: Some(signed),
        hmac: Some(hmac.to_vec()),
        ..Default::default()
    }
    .encode_to_vec();
    Ok(Voucher {
        details,
        account_public,
        companion_identity: *companion_identity,
        key_index,
        hmac_container,
    })
}

impl Voucher {
    /// Checks the companion's `ADVSignedDeviceIdentity` from `pair-device-sign`:
    /// same details and account key, and a device signature by the identity
    /// key the QR code announced.
    pub fn check_companion_reply(&self, signed_identity: &[u8]) -> Result<()> {
        let signed = wa::ADVSignedDeviceIdentity::decode_from_slice(signed_identity)?;
        if signed.details.as_deref() != Some(&self.details[..]) {
            return Err(FakeWaError::Pairing("companion changed the details".into()));
        }
        // whatsmeow and Baileys leave the account key out of their reply
        // (the phone knows it); whatsapp-rust echoes it. Another key is wrong.
        if signed
            .account_signature_key
            .as_deref()
            .is_some_and(|key| key != &self.account_public[..])
        {
            return Err(FakeWaError::Pairing(
                "companion changed the account key".into(),
            ));
        }
        let device_signature = signed
            .device_signature
            .as_deref()
            .ok_or(FakeWaError::Pairing("no device signature".into()))?;
        let message = [
            &DEVICE_SIGNATURE_PREFIX[..],
            &self.details,
            &self.companion_identity,
            &self.account_public,
        ]
        .concat();
        let identity = PublicKey::from_djb_public_key_bytes(&self.companion_identity)?;
        if identity.verify_signature(&message, device_signature) {
            Ok(())
        } else {
            Err(FakeWaError::Pairing(
                "device signature does not verify".into(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays the companion: what a real client does with `pair-success`.
    fn companion_countersign(voucher: &Voucher, identity: &KeyPair) -> Result<Vec<u8>> {
        let container =
            wa::ADVSignedDeviceIdentityHMAC::decode_from_slice(&voucher.hmac_container)?;
        let mut signed = wa::ADVSignedDeviceIdentity::decode_from_slice(
            container.details.as_deref().unwrap_or_default(),
        )?;
        let message = [
            &DEVICE_SIGNATURE_PREFIX[..],
            &voucher.details,
            &key_bytes(identity),
            &voucher.account_public,
        ]
        .concat();
        signed.device_signature = Some(
            identity
                .calculate_signature(&message, &mut rand::rng())?
                .to_vec(),
        );
        Ok(signed.encode_to_vec())
    }

    #[test]
    fn voucher_carries_a_verifiable_account_signature_and_hmac() -> Result<()> {
        let account = KeyPair::generate(&mut rand::rng());
        let identity = KeyPair::generate(&mut rand::rng());
        let secret = [7u8; 32];
        let voucher = vouch(&account, &key_bytes(&identity), &secret, 3, 1000)?;

        let container =
            wa::ADVSignedDeviceIdentityHMAC::decode_from_slice(&voucher.hmac_container)?;
        let signed_bytes = container.details.clone().unwrap_or_default();
        assert_eq!(
            container.hmac.as_deref(),
            Some(&hmac_sha256(&secret, &signed_bytes)[..])
        );

        let signed = wa::ADVSignedDeviceIdentity::decode_from_slice(&signed_bytes)?;
        let message = [
            &ACCOUNT_SIGNATURE_PREFIX[..],
            &voucher.details,
            &key_bytes(&identity),
        ]
        .concat();
        assert!(account.public_key.verify_signature(
            &message,
            signed.account_signature.as_deref().unwrap_or_default()
        ));
        Ok(())
    }

    #[test]
    fn accepts_the_right_countersignature_and_rejects_another_key() -> Result<()> {
        let account = KeyPair::generate(&mut rand::rng());
        let identity = KeyPair::generate(&mut rand::rng());
        let voucher = vouch(&account, &key_bytes(&identity), &[1u8; 32], 1, 1)?;

        voucher.check_companion_reply(&companion_countersign(&voucher, &identity)?)?;

        let impostor = KeyPair::generate(&mut rand::rng());
        assert!(
            voucher
                .check_companion_reply(&companion_countersign(&voucher, &impostor)?)
                .is_err()
        );
        Ok(())
    }

    #[test]
    fn the_reply_may_leave_the_account_key_out_but_not_change_it() -> Result<()> {
        let account = KeyPair::generate(&mut rand::rng());
        let identity = KeyPair::generate(&mut rand::rng());
        let voucher = vouch(&account, &key_bytes(&identity), &[1u8; 32], 1, 1)?;
        let reply = companion_countersign(&voucher, &identity)?;
        let mut without = wa::ADVSignedDeviceIdentity::decode_from_slice(&reply)?;
        without.account_signature_key = None;
        voucher.check_companion_reply(&without.encode_to_vec())?;
        let mut changed = without.clone();
        changed.account_signature_key = Some(vec![9; 32]);
        assert!(
            voucher
                .check_companion_reply(&changed.encode_to_vec())
                .is_err()
        );
        Ok(())
    }
}
