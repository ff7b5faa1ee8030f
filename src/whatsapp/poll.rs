//! Poll votes: WhatsApp encrypts each vote with a key derived from the poll's secret,
//! the poll's ID, its creator and the voter; the vote names options by the SHA-256 of
//! their text.

/// An encrypted vote, as a vote message carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedVote {
    /// The poll voted in.
    pub poll_id: String,
    /// The poll is the voter's own (the key's `fromMe`, seen from the voter).
    pub poll_by_voter: bool,
    /// The poll's creator when the vote names one (in groups).
    pub poll_creator: Option<String>,
    pub payload: Vec<u8>,
    pub iv: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
#[error("the vote could not be read: {0}")]
pub struct VoteError(String);

/// What a vote names an option by.
pub fn option_hash(text: &str) -> [u8; 32] {
    wacore::poll::compute_option_hash(text)
}

/// The hashes of the options the voter chose. JIDs are without device
/// (`15551234567@s.whatsapp.net`).
pub fn decrypt_vote(
    vote: &EncryptedVote,
    secret: &[u8],
    creator_jid: &str,
    voter_jid: &str,
) -> Result<Vec<Vec<u8>>, VoteError> {
    wacore::poll::decrypt_poll_vote_with_secret(
        wacore::poll::PollVoteCiphertext {
            enc_payload: &vote.payload,
            enc_iv: &vote.iv,
        },
        secret,
        &vote.poll_id,
        creator_jid,
        voter_jid,
    )
    .map_err(|err| VoteError(err.to_string()))
}

/// The vote for `chosen` option texts, encrypted for the poll: (payload, iv).
pub fn encrypt_vote(
    chosen: &[String],
    secret: &[u8],
    poll_id: &str,
    creator_jid: &str,
    voter_jid: &str,
) -> Result<(Vec<u8>, Vec<u8>), VoteError> {
    let hashes: Vec<Vec<u8>> = chosen
        .iter()
        .map(|text| option_hash(text).to_vec())
        .collect();
    wacore::poll::encrypt_poll_vote_with_secret(&hashes, secret, poll_id, creator_jid, voter_jid)
        .map(|(payload, iv)| (payload, iv.to_vec()))
        .map_err(|err| VoteError(err.to_string()))
}

/// A JID without its device part (`1555…:3@s.whatsapp.net` → `1555…@s.whatsapp.net`).
pub fn without_device(jid: &str) -> String {
    match jid.split_once('@') {
        Some((user, server)) => {
            let user = user.split(':').next().unwrap_or(user);
            format!("{user}@{server}")
        }
        None => jid.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vote_reads_back_with_the_poll_secret_only() {
        let secret = [9u8; 32];
        let chosen = vec![option_hash("Brazil").to_vec()];
        let (payload, iv) = wacore::poll::encrypt_poll_vote_with_secret(
            &chosen,
            &secret,
            "POLL1",
            "1@s.whatsapp.net",
            "2@s.whatsapp.net",
        )
        .expect("encrypt");
        let vote = EncryptedVote {
            poll_id: "POLL1".into(),
            poll_by_voter: true,
            poll_creator: None,
            payload,
            iv: iv.to_vec(),
        };
        assert_eq!(
            decrypt_vote(&vote, &secret, "1@s.whatsapp.net", "2@s.whatsapp.net").expect("vote"),
            chosen
        );
        assert!(decrypt_vote(&vote, &[8u8; 32], "1@s.whatsapp.net", "2@s.whatsapp.net").is_err());
        assert_eq!(
            without_device("1555:3@s.whatsapp.net"),
            "1555@s.whatsapp.net"
        );
    }
}
