//! The Signal stores of one simulated device (a contact's phone, the user's
//! phone), in memory. The library takes each store as its own `&mut dyn`, so
//! each is its own field. Every operation answers at once, so the library's
//! async calls complete on their first poll (see [`super::ready`]).

use std::collections::HashMap;
use wacore_libsignal::protocol::error::Result;
use wacore_libsignal::protocol::{
    Direction, IdentityChange, IdentityKey, IdentityKeyPair, IdentityKeyStore, PreKeyId,
    PreKeyRecord, PreKeyStore, ProtocolAddress, SenderKeyName, SenderKeyRecord, SenderKeyStore,
    SessionRecord, SessionStore, SignalProtocolError, SignedPreKeyId, SignedPreKeyRecord,
    SignedPreKeyStore,
};

pub(crate) struct MemoryStore {
    pub identities: Identities,
    pub prekeys: PreKeys,
    pub signed_prekeys: SignedPreKeys,
    pub sessions: Sessions,
    pub sender_keys: SenderKeys,
}

impl MemoryStore {
    pub fn new(identity: IdentityKeyPair, registration_id: u32) -> Self {
        Self {
            identities: Identities {
                own: identity,
                registration_id,
                known: HashMap::new(),
            },
            prekeys: PreKeys(HashMap::new()),
            signed_prekeys: SignedPreKeys(HashMap::new()),
            sessions: Sessions(HashMap::new()),
            sender_keys: SenderKeys(HashMap::new()),
        }
    }
}

pub(crate) struct Identities {
    own: IdentityKeyPair,
    registration_id: u32,
    known: HashMap<ProtocolAddress, IdentityKey>,
}

impl Identities {
    pub fn own(&self) -> &IdentityKeyPair {
        &self.own
    }

    pub fn registration_id(&self) -> u32 {
        self.registration_id
    }
}

#[async_trait::async_trait]
impl IdentityKeyStore for Identities {
    async fn get_identity_key_pair(&self) -> Result<IdentityKeyPair> {
        Ok(self.own.clone())
    }

    async fn get_local_registration_id(&self) -> Result<u32> {
        Ok(self.registration_id)
    }

    async fn save_identity(
        &mut self,
        address: &ProtocolAddress,
        identity: &IdentityKey,
    ) -> Result<IdentityChange> {
        let previous = self.known.insert(address.clone(), *identity);
        Ok(IdentityChange::from_changed(
            previous.is_some_and(|known| known != *identity),
        ))
    }

    /// Trust on every use: a re-linked device legitimately brings a new key,
    /// and the fake has no user to ask.
    async fn is_trusted_identity(
        &self,
        _address: &ProtocolAddress,
        _identity: &IdentityKey,
        _direction: Direction,
    ) -> Result<bool> {
        Ok(true)
    }

    async fn get_identity(&self, address: &ProtocolAddress) -> Result<Option<IdentityKey>> {
        Ok(self.known.get(address).copied())
    }
}

pub(crate) struct PreKeys(HashMap<u32, PreKeyRecord>);

#[async_trait::async_trait]
impl PreKeyStore for PreKeys {
    async fn get_pre_key(&self, prekey_id: PreKeyId) -> Result<PreKeyRecord> {
        self.0
            .get(&u32::from(prekey_id))
            .cloned()
            .ok_or(SignalProtocolError::InvalidPreKeyId)
    }

    async fn save_pre_key(&mut self, prekey_id: PreKeyId, record: &PreKeyRecord) -> Result<()> {
        self.0.insert(u32::from(prekey_id), record.clone());
        Ok(())
    }

    async fn remove_pre_key(&mut self, prekey_id: PreKeyId) -> Result<()> {
        self.0.remove(&u32::from(prekey_id));
        Ok(())
    }
}

pub(crate) struct SignedPreKeys(HashMap<u32, SignedPreKeyRecord>);

#[async_trait::async_trait]
impl SignedPreKeyStore for SignedPreKeys {
    async fn get_signed_pre_key(&self, id: SignedPreKeyId) -> Result<SignedPreKeyRecord> {
        self.0
            .get(&u32::from(id))
            .cloned()
            .ok_or(SignalProtocolError::InvalidSignedPreKeyId)
    }

    async fn save_signed_pre_key(
        &mut self,
        id: SignedPreKeyId,
        record: &SignedPreKeyRecord,
    ) -> Result<()> {
        self.0.insert(u32::from(id), record.clone());
        Ok(())
    }
}

pub(crate) struct Sessions(HashMap<ProtocolAddress, SessionRecord>);

impl Sessions {
    pub fn forget(&mut self, address: &ProtocolAddress) {
        self.0.remove(address);
    }

    pub fn contains(&self, address: &ProtocolAddress) -> bool {
        self.0.contains_key(address)
    }
}

#[async_trait::async_trait]
impl SessionStore for Sessions {
    async fn load_session(&self, address: &ProtocolAddress) -> Result<Option<SessionRecord>> {
        Ok(self.0.get(address).cloned())
    }

    async fn has_session(&self, address: &ProtocolAddress) -> Result<bool> {
        Ok(self.0.contains_key(address))
    }

    async fn store_session(
        &mut self,
        address: &ProtocolAddress,
        record: SessionRecord,
    ) -> Result<()> {
        self.0.insert(address.clone(), record);
        Ok(())
    }
}

pub(crate) struct SenderKeys(HashMap<(String, String), SenderKeyRecord>);

fn sender_key_id(name: &SenderKeyName) -> (String, String) {
    (name.group_id().to_owned(), name.sender_id().to_owned())
}

#[async_trait::async_trait]
impl SenderKeyStore for SenderKeys {
    async fn store_sender_key(
        &mut self,
        name: &SenderKeyName,
        record: SenderKeyRecord,
    ) -> Result<()> {
        self.0.insert(sender_key_id(name), record);
        Ok(())
    }

    async fn load_sender_key(&self, name: &SenderKeyName) -> Result<Option<SenderKeyRecord>> {
        Ok(self.0.get(&sender_key_id(name)).cloned())
    }
}
