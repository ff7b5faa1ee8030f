//! One device the fake simulates, with its own Signal identity: it hands out
//! prekey bundles, starts sessions from a companion's bundle, and encrypts and
//! decrypts pairwise and sender-key messages.

use super::bundle::WireBundle;
use super::store::MemoryStore;
use super::{pad, ready, unpad};
use crate::cert::key_bytes;
use crate::error::{FakeWaError, Result};
use wacore_libsignal::protocol::{
    CiphertextMessage, DeviceId, GenericSignedPreKey, IdentityKeyPair, KeyPair, PreKeyRecord,
    PreKeySignalMessage, PreKeyStore, ProtocolAddress, SenderKeyDistributionMessage, SenderKeyName,
    SignalMessage, SignedPreKeyRecord, SignedPreKeyStore, Timestamp, UsePQRatchet,
    create_sender_key_distribution_message, group_decrypt, group_encrypt, message_decrypt,
    message_encrypt, process_prekey_bundle, process_sender_key_distribution_message,
};

const SIGNED_PREKEY_ID: u32 = 1;

/// `<enc type=…>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EncType {
    /// A message that also sets the session up (`pkmsg`).
    PreKey,
    /// A message on an established session (`msg`).
    Whisper,
    /// A group message under the sender's sender key (`skmsg`).
    SenderKey,
}

impl EncType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PreKey => "pkmsg",
            Self::Whisper => "msg",
            Self::SenderKey => "skmsg",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pkmsg" => Some(Self::PreKey),
            "msg" => Some(Self::Whisper),
            "skmsg" => Some(Self::SenderKey),
            _ => None,
        }
    }
}

pub(crate) struct PeerDevice {
    store: MemoryStore,
    signed_prekey: (KeyPair, Vec<u8>),
    next_prekey: u32,
}

/// Where a session lives in a peer's store: the remote's user and device.
/// The fake always names a remote by its phone-number user, whatever form
/// (PN or LID) the wire used.
pub(crate) fn address(user: &str, device: u16) -> ProtocolAddress {
    ProtocolAddress::new(user, DeviceId::from(u32::from(device)))
}

impl PeerDevice {
    pub fn new(identity: &KeyPair) -> Result<Self> {
        let mut rng = rand::rng();
        let identity_pair =
            IdentityKeyPair::new(identity.public_key.into(), identity.private_key.clone());
        // Registration ids are 14-bit on WhatsApp.
        let registration_id = 1 + rand::random::<u32>() % 16380;
        let signed = KeyPair::generate(&mut rng);
        let signature = identity
            .private_key
            .calculate_signature(&signed.public_key.serialize(), &mut rng)?
            .to_vec();
        let mut store = MemoryStore::new(identity_pair, registration_id);
        let record = SignedPreKeyRecord::new(
            SIGNED_PREKEY_ID.into(),
            Timestamp::from_epoch_millis(0),
            &signed,
            &signature,
        );
        ready(
            store
                .signed_prekeys
                .save_signed_pre_key(SIGNED_PREKEY_ID.into(), &record),
        )?;
        Ok(Self {
            store,
            signed_prekey: (signed, signature),
            next_prekey: 1,
        })
    }

    pub fn identity_public(&self) -> [u8; 32] {
        let public = self.store.identities.own().public_key().public_key_bytes();
        public.try_into().unwrap_or([0; 32])
    }

    /// A bundle with a fresh one-time prekey, remembered for the pkmsg that
    /// will use it.
    pub fn bundle(&mut self) -> Result<WireBundle> {
        let id = self.next_prekey;
        self.next_prekey = self.next_prekey % 0x00ff_ffff + 1;
        let prekey = KeyPair::generate(&mut rand::rng());
        ready(
            self.store
                .prekeys
                .save_pre_key(id.into(), &PreKeyRecord::new(id.into(), &prekey)),
        )?;
        Ok(WireBundle {
            registration_id: self.store.identities.registration_id(),
            identity: self.identity_public(),
            signed_prekey_id: SIGNED_PREKEY_ID,
            signed_prekey: key_bytes(&self.signed_prekey.0),
            signed_prekey_signature: self.signed_prekey.1.clone(),
            prekey: Some((id, key_bytes(&prekey))),
        })
    }

    pub fn has_session(&self, remote: &ProtocolAddress) -> bool {
        self.store.sessions.contains(remote)
    }

    /// Starts a session with a companion from its bundle (X3DH as the sender).
    pub fn start_session(&mut self, remote: &ProtocolAddress, bundle: &WireBundle) -> Result<()> {
        let bundle = bundle.to_library(u32::from(remote.device_id()) as u16)?;
        ready(process_prekey_bundle(
            remote,
            &mut self.store.sessions,
            &mut self.store.identities,
            &bundle,
            &mut rand::rng(),
            UsePQRatchet::No,
        ))?;
        Ok(())
    }

    pub fn forget_session(&mut self, remote: &ProtocolAddress) {
        self.store.sessions.forget(remote);
    }

    /// Pads and encrypts a plaintext for `remote`; the session must exist.
    pub fn encrypt(
        &mut self,
        remote: &ProtocolAddress,
        plaintext: Vec<u8>,
    ) -> Result<(EncType, Vec<u8>)> {
        let store = &mut self.store;
        let message = ready(message_encrypt(
            &pad(plaintext),
            remote,
            &mut store.sessions,
            &mut store.identities,
        ))?;
        let kind = match &message {
            CiphertextMessage::PreKeySignalMessage(_) => EncType::PreKey,
            _ => EncType::Whisper,
        };
        Ok((kind, message.serialize().to_vec()))
    }

    /// Decrypts and unpads a pairwise message from `remote`.
    pub fn decrypt(
        &mut self,
        remote: &ProtocolAddress,
        kind: EncType,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>> {
        let message = match kind {
            EncType::PreKey => CiphertextMessage::PreKeySignalMessage(
                PreKeySignalMessage::try_from(ciphertext).map_err(signal)?,
            ),
            EncType::Whisper => CiphertextMessage::SignalMessage(
                SignalMessage::try_from(ciphertext).map_err(signal)?,
            ),
            EncType::SenderKey => {
                return Err(FakeWaError::Signal(
                    "a sender-key message is not pairwise".into(),
                ));
            }
        };
        let store = &mut self.store;
        let result = ready(message_decrypt(
            &message,
            remote,
            &mut store.sessions,
            &mut store.identities,
            &mut store.prekeys,
            &store.signed_prekeys,
            &mut rand::rng(),
            UsePQRatchet::No,
        ))?;
        // The library leaves removing a used one-time prekey to its caller.
        if let Some(prekey) = result.consumed_prekey_id {
            ready(store.prekeys.remove_pre_key(prekey))?;
        }
        unpad(result.plaintext)
    }

    /// The sender key distribution message for this device in `group`.
    pub fn sender_key_distribution(&mut self, group: &str, me: &str) -> Result<Vec<u8>> {
        let name = SenderKeyName::new(group.to_owned(), me.to_owned());
        let skdm = ready(create_sender_key_distribution_message(
            &name,
            &mut self.store.sender_keys,
            &mut rand::rng(),
        ))?;
        Ok(skdm.serialized().to_vec())
    }

    pub fn group_encrypt(&mut self, group: &str, me: &str, plaintext: Vec<u8>) -> Result<Vec<u8>> {
        let name = SenderKeyName::new(group.to_owned(), me.to_owned());
        let message = ready(group_encrypt(
            &mut self.store.sender_keys,
            &name,
            &pad(plaintext),
            &mut rand::rng(),
        ))?;
        Ok(message.serialized().to_vec())
    }

    /// Takes another member's sender key (from an SKDM it sent us).
    pub fn accept_sender_key(&mut self, group: &str, sender: &str, skdm: &[u8]) -> Result<()> {
        let name = SenderKeyName::new(group.to_owned(), sender.to_owned());
        let skdm = SenderKeyDistributionMessage::try_from(skdm).map_err(signal)?;
        ready(process_sender_key_distribution_message(
            &name,
            &skdm,
            &mut self.store.sender_keys,
        ))
    }

    pub fn group_decrypt(
        &mut self,
        group: &str,
        sender: &str,
        ciphertext: &[u8],
    ) -> Result<Vec<u8>> {
        let name = SenderKeyName::new(group.to_owned(), sender.to_owned());
        unpad(ready(group_decrypt(
            ciphertext,
            &mut self.store.sender_keys,
            &name,
        ))?)
    }
}

fn signal(err: impl std::fmt::Display) -> FakeWaError {
    FakeWaError::Signal(err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Result<PeerDevice> {
        PeerDevice::new(&KeyPair::generate(&mut rand::rng()))
    }

    #[test]
    fn pairwise_sessions_start_with_pkmsg_and_continue_with_msg() -> Result<()> {
        let (mut alice, mut bob) = (device()?, device()?);
        let (alice_at_bob, bob_at_alice) = (address("1111", 0), address("2222", 3));
        alice.start_session(&bob_at_alice, &bob.bundle()?)?;
        let (kind, first) = alice.encrypt(&bob_at_alice, b"hi bob".to_vec())?;
        assert_eq!(kind, EncType::PreKey);
        assert_eq!(bob.decrypt(&alice_at_bob, kind, &first)?, b"hi bob");
        assert!(
            bob.decrypt(&alice_at_bob, kind, &first).is_err(),
            "a replayed pkmsg is refused"
        );

        let (kind, reply) = bob.encrypt(&alice_at_bob, b"hi alice".to_vec())?;
        assert_eq!(kind, EncType::Whisper);
        assert_eq!(alice.decrypt(&bob_at_alice, kind, &reply)?, b"hi alice");
        let (kind, next) = alice.encrypt(&bob_at_alice, b"again".to_vec())?;
        assert_eq!(
            kind,
            EncType::Whisper,
            "answered sessions stop sending pkmsg"
        );
        assert_eq!(bob.decrypt(&alice_at_bob, kind, &next)?, b"again");
        Ok(())
    }

    #[test]
    fn sender_keys_reach_every_member_that_got_the_distribution() -> Result<()> {
        let (mut alice, mut bob) = (device()?, device()?);
        let skdm = alice.sender_key_distribution("g1", "1111.0")?;
        bob.accept_sender_key("g1", "1111.0", &skdm)?;
        let first = alice.group_encrypt("g1", "1111.0", b"one".to_vec())?;
        let second = alice.group_encrypt("g1", "1111.0", b"two".to_vec())?;
        assert_eq!(bob.group_decrypt("g1", "1111.0", &second)?, b"two");
        assert_eq!(bob.group_decrypt("g1", "1111.0", &first)?, b"one");
        assert!(bob.group_decrypt("g2", "1111.0", &first).is_err());
        Ok(())
    }
}
