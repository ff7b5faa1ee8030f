//! WhatsApp's media encryption, written from the protocol's description:
//! keys from HKDF over a random media key, AES-256-CBC, and a MAC truncated
//! to 10 bytes after the ciphertext.

use crate::error::{FakeWaError, Result};
use sha2::{Digest, Sha256};
use wacore::crypto::hkdf_sha256_into;
use wacore_libsignal::crypto::{
    CryptographicMac, aes_256_cbc_decrypt_into, aes_256_cbc_encrypt_into,
};

const MAC_LENGTH: usize = 10;

/// What a file is; each kind has its own HKDF info string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    History,
    AppState,
}

impl MediaKind {
    fn info(self) -> &'static [u8] {
        match self {
            Self::Image | Self::Sticker => b"WhatsApp Image Keys",
            Self::Video => b"WhatsApp Video Keys",
            Self::Audio => b"WhatsApp Audio Keys",
            Self::Document => b"WhatsApp Document Keys",
            Self::History => b"WhatsApp History Keys",
            Self::AppState => b"WhatsApp App State Keys",
        }
    }

    /// The path segment of an upload (`/mms/<segment>/…`).
    pub fn upload_segment(self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Audio => "audio",
            Self::Document => "document",
            Self::Sticker => "image",
            Self::History => "md-msg-hist",
            Self::AppState => "md-app-state",
        }
    }
}

/// An encrypted file and what a message needs to point at it.
#[derive(Debug, Clone)]
pub struct EncryptedMedia {
    pub media_key: [u8; 32],
    /// AES-CBC ciphertext followed by the 10-byte MAC: what is uploaded.
    pub file: Vec<u8>,
    pub file_sha256: [u8; 32],
    pub file_enc_sha256: [u8; 32],
    pub file_length: u64,
}

struct MediaKeys {
    iv: [u8; 16],
    cipher_key: [u8; 32],
    mac_key: [u8; 32],
}

fn expand(media_key: &[u8], kind: MediaKind) -> Result<MediaKeys> {
    let mut out = [0u8; 112];
    hkdf_sha256_into(media_key, None, kind.info(), &mut out)
        .map_err(|err| FakeWaError::Media(format!("hkdf: {err}")))?;
    let mut keys = MediaKeys {
        iv: [0; 16],
        cipher_key: [0; 32],
        mac_key: [0; 32],
    };
    keys.iv.copy_from_slice(&out[..16]);
    keys.cipher_key.copy_from_slice(&out[16..48]);
    keys.mac_key.copy_from_slice(&out[48..80]);
    Ok(keys)
}

fn mac(keys: &MediaKeys, ciphertext: &[u8]) -> Result<Vec<u8>> {
    let mut mac = CryptographicMac::new("HmacSha256", &keys.mac_key)
        .map_err(|err| FakeWaError::Media(err.to_string()))?;
    mac.update(&keys.iv);
    mac.update(ciphertext);
    let mut full = mac.finalize();
    full.truncate(MAC_LENGTH);
    Ok(full)
}

pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

pub fn encrypt(plaintext: &[u8], kind: MediaKind) -> Result<EncryptedMedia> {
    encrypt_with_key(plaintext, kind, rand::random())
}

pub fn encrypt_with_key(
    plaintext: &[u8],
    kind: MediaKind,
    media_key: [u8; 32],
) -> Result<EncryptedMedia> {
    let keys = expand(&media_key, kind)?;
    let mut file = Vec::with_capacity(plaintext.len() + 16 + MAC_LENGTH);
    aes_256_cbc_encrypt_into(plaintext, &keys.cipher_key, &keys.iv, &mut file)
        .map_err(|err| FakeWaError::Media(err.to_string()))?;
    let tag = mac(&keys, &file)?;
    file.extend_from_slice(&tag);
    Ok(EncryptedMedia {
        media_key,
        file_sha256: sha256(plaintext),
        file_enc_sha256: sha256(&file),
        file_length: plaintext.len() as u64,
        file,
    })
}

/// Checks the MAC and decrypts an uploaded file.
pub fn decrypt(file: &[u8], kind: MediaKind, media_key: &[u8]) -> Result<Vec<u8>> {
    if file.len() < MAC_LENGTH + 16 {
        return Err(FakeWaError::Media("file shorter than one block".into()));
    }
    let keys = expand(media_key, kind)?;
    let (ciphertext, tag) = file.split_at(file.len() - MAC_LENGTH);
    if mac(&keys, ciphertext)? != tag {
        return Err(FakeWaError::Media("media MAC does not match".into()));
    }
    let mut plaintext = Vec::with_capacity(ciphertext.len());
    aes_256_cbc_decrypt_into(ciphertext, &keys.cipher_key, &keys.iv, &mut plaintext)
        .map_err(|err| FakeWaError::Media(err.to_string()))?;
    Ok(plaintext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_detects_tampering() -> Result<()> {
        let media = encrypt(b"a picture, honestly", MediaKind::Image)?;
        assert_eq!(media.file.len() % 16, MAC_LENGTH);
        assert_eq!(media.file_enc_sha256, sha256(&media.file));
        assert_eq!(
            decrypt(&media.file, MediaKind::Image, &media.media_key)?,
            b"a picture, honestly"
        );
        // Another kind derives other keys.
        assert!(decrypt(&media.file, MediaKind::Video, &media.media_key).is_err());
        let mut tampered = media.file.clone();
        tampered[0] ^= 1;
        assert!(decrypt(&tampered, MediaKind::Image, &media.media_key).is_err());
        assert!(decrypt(&[0; 5], MediaKind::Image, &media.media_key).is_err());
        Ok(())
    }

    #[test]
    fn matches_a_known_sha256() {
        let expected = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        let got: String = sha256(b"abc").iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(got, expected);
    }
}
