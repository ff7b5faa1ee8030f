//! The account's app state as the server keeps it: the phone's address book, as
//! encrypted `critical_unblock_low` patches its companions fetch. Each change is one
//! patch, encoded once when made (the MACs depend on random IVs, so a patch must read
//! the same every time it is served) and chained by the collection's ltHash.

use std::collections::HashMap;

use wacore_appstate::hash::{HashState, generate_patch_mac};
use wacore_appstate::{ExpandedAppStateKeys, encode_record, expand_app_state_keys};
use waproto::whatsapp as wa;

/// The collection contact names live in.
pub const CONTACTS: &str = "critical_unblock_low";
/// The schema version WhatsApp stamps contact actions with.
const CONTACT_ACTION_VERSION: i32 = 2;

/// One account's app-state key and the patches made with it.
pub(crate) struct AppState {
    pub key_id: Vec<u8>,
    pub key_data: [u8; 32],
    keys: ExpandedAppStateKeys,
    hash: HashState,
    /// Index MAC → the value MAC of its current SET (for replacing it).
    values: HashMap<Vec<u8>, Vec<u8>>,
    /// Index MAC → its current record, in the order first set (for snapshots).
    records: Vec<(Vec<u8>, wa::SyncdRecord)>,
    patches: Vec<wa::SyncdPatch>,
}

impl AppState {
    pub fn new() -> Self {
        let key_data = rand::random::<[u8; 32]>();
        Self {
            key_id: rand::random::<[u8; 6]>().to_vec(),
            keys: expand_app_state_keys(&key_data),
            key_data,
            hash: HashState::default(),
            values: HashMap::new(),
            records: Vec::new(),
            patches: Vec::new(),
        }
    }

    /// The collection's version: how many patches it has.
    pub fn version(&self) -> u64 {
        self.patches.len() as u64
    }

    /// The phone saves `jid` in its address book under `full_name`; returns the new
    /// version of the collection.
    pub fn save_contact(&mut self, jid: &str, full_name: &str, first_name: &str) -> u64 {
        let index = serde_json::json!(["contact", jid]).to_string();
        let value = wa::SyncActionValue {
            timestamp: Some(crate::node::unix_now() as i64 * 1000),
            contact_action: buffa::MessageField::some(wa::sync_action_value::ContactAction {
                full_name: Some(full_name.to_owned()),
                first_name: Some(first_name.to_owned()),
                save_on_primary_addressbook: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let iv = rand::random::<[u8; 16]>();
        let (mutation, value_mac) = encode_record(
            wa::syncd_mutation::SyncdOperation::SET,
            index.as_bytes(),
            &value,
            &self.keys,
            &self.key_id,
            &iv,
            CONTACT_ACTION_VERSION,
        );
        let index_mac = mutation
            .record
            .as_option()
            .and_then(|record| record.index.as_option())
            .and_then(|index| index.blob.clone())
            .unwrap_or_default();
        let previous = self.values.get(&index_mac).cloned();
        let mutations = vec![mutation];
        let (_, updated) = self
            .hash
            .update_hash(&mutations, |_, _| Ok(previous.clone()));
        if let Err(err) = updated {
            log::warn!("app state hash update failed: {err}");
        }
        self.values.insert(index_mac.clone(), value_mac.to_vec());
        if let Some(record) = mutations[0].record.as_option().cloned() {
            match self
                .records
                .iter_mut()
                .find(|(known, _)| *known == index_mac)
            {
                Some((_, current)) => *current = record,
                None => self.records.push((index_mac, record)),
            }
        }
        let version = self.version() + 1;
        self.hash.version = version;
        let mut patch = wa::SyncdPatch {
            version: buffa::MessageField::some(wa::SyncdVersion {
                version: Some(version),
            }),
            mutations,
            snapshot_mac: Some(
                self.hash
                    .generate_snapshot_mac(CONTACTS, &self.keys.snapshot_mac),
            ),
            key_id: buffa::MessageField::some(wa::KeyId {
                id: Some(self.key_id.clone()),
            }),
            ..Default::default()
        };
        patch.patch_mac = Some(generate_patch_mac(
            &patch,
            CONTACTS,
            &self.keys.patch_mac,
            version,
        ));
        self.patches.push(patch);
        version
    }

    /// The whole collection as it is now, for a client that asks for a snapshot.
    pub fn snapshot(&self) -> wa::SyncdSnapshot {
        wa::SyncdSnapshot {
            version: buffa::MessageField::some(wa::SyncdVersion {
                version: Some(self.version()),
            }),
            records: self
                .records
                .iter()
                .map(|(_, record)| record.clone())
                .collect(),
            mac: Some(
                self.hash
                    .generate_snapshot_mac(CONTACTS, &self.keys.snapshot_mac),
            ),
            key_id: buffa::MessageField::some(wa::KeyId {
                id: Some(self.key_id.clone()),
            }),
        }
    }

    /// The patches after version `known`, oldest first.
    pub fn patches_after(&self, known: u64) -> &[wa::SyncdPatch] {
        let start = usize::try_from(known)
            .unwrap_or(usize::MAX)
            .min(self.patches.len());
        &self.patches[start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_change_is_one_signed_patch_and_the_snapshot_holds_the_latest() {
        let mut state = AppState::new();
        assert_eq!(state.version(), 0);
        assert_eq!(state.save_contact("1@s.whatsapp.net", "Ann", "Ann"), 1);
        assert_eq!(state.save_contact("2@s.whatsapp.net", "Ben", "Ben"), 2);
        assert_eq!(state.save_contact("1@s.whatsapp.net", "Annie", "Annie"), 3);
        let patches = state.patches_after(1);
        assert_eq!(patches.len(), 2);
        for (patch, version) in patches.iter().zip(2u64..) {
            assert_eq!(patch.version.version, Some(version));
            assert_eq!(
                patch.patch_mac.as_deref(),
                Some(
                    generate_patch_mac(patch, CONTACTS, &state.keys.patch_mac, version).as_slice()
                )
            );
        }
        assert!(state.patches_after(9).is_empty());
        let snapshot = state.snapshot();
        assert_eq!(snapshot.version.version, Some(3));
        assert_eq!(
            snapshot.records.len(),
            2,
            "a contact saved twice is one record"
        );
        let mut fresh = HashState::default();
        fresh.update_hash_from_records(&snapshot.records);
        fresh.version = 3;
        assert_eq!(
            snapshot.mac,
            Some(fresh.generate_snapshot_mac(CONTACTS, &state.keys.snapshot_mac)),
            "the ltHash after replacing a value equals the one of the current records"
        );
    }
}
