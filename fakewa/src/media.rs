//! Media as WhatsApp's media servers keep it: encrypted blobs by direct
//! path (uploaded by clients, or put there by the simulated phones), and
//! plain profile pictures.

use crate::error::Result;
use crate::media_crypto::{EncryptedMedia, MediaKind, encrypt};
use std::collections::HashMap;

/// A blob a message can point at.
#[derive(Debug, Clone)]
pub struct MediaRef {
    pub direct_path: String,
    pub media_key: [u8; 32],
    pub file_sha256: [u8; 32],
    pub file_enc_sha256: [u8; 32],
    pub file_length: u64,
}

/// A profile picture: a plain JPEG at a path, with its WhatsApp id.
#[derive(Debug, Clone)]
pub struct StoredPicture {
    pub id: String,
    pub direct_path: String,
}

#[derive(Default)]
pub(crate) struct MediaStore {
    blobs: HashMap<String, Vec<u8>>,
    next: u64,
}

impl MediaStore {
    /// Stores bytes under a fresh direct path. Real direct paths carry a
    /// query string, and clients append theirs after it; the path part
    /// (before the first `?`) is what identifies the blob.
    pub fn put(&mut self, segment: &str, bytes: Vec<u8>) -> String {
        self.next += 1;
        let path = format!(
            "/v/t62.fake-{segment}/{:016x}{:08x}.enc",
            self.next,
            rand::random::<u32>()
        );
        self.blobs.insert(path.clone(), bytes);
        format!("{path}?ccb=11-4&oh=fake&oe=fake")
    }

    pub fn get(&self, path_and_query: &str) -> Option<&[u8]> {
        let path = path_and_query.split('?').next().unwrap_or_default();
        self.blobs.get(path).map(Vec::as_slice)
    }

    /// Forgets a file, as WhatsApp's servers do after a while.
    pub fn remove(&mut self, path_and_query: &str) -> bool {
        let path = path_and_query.split('?').next().unwrap_or_default();
        self.blobs.remove(path).is_some()
    }

    /// Encrypts and stores a file the way a sender would upload it.
    pub fn put_encrypted(&mut self, plaintext: &[u8], kind: MediaKind) -> Result<MediaRef> {
        let EncryptedMedia {
            media_key,
            file,
            file_sha256,
            file_enc_sha256,
            file_length,
        } = encrypt(plaintext, kind)?;
        let direct_path = self.put(kind.upload_segment(), file);
        Ok(MediaRef {
            direct_path,
            media_key,
            file_sha256,
            file_enc_sha256,
            file_length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_found_by_path_whatever_query_follows() -> Result<()> {
        let mut store = MediaStore::default();
        let path = store.put("image", b"bytes".to_vec());
        assert!(path.contains('?'));
        assert_eq!(store.get(&path), Some(&b"bytes"[..]));
        let with_client_query = format!("{path}&hash=abc&mms-type=image");
        assert_eq!(store.get(&with_client_query), Some(&b"bytes"[..]));
        let with_second_query = format!(
            "{}?auth=x&token=y",
            path.split('?').next().unwrap_or_default()
        );
        assert_eq!(store.get(&with_second_query), Some(&b"bytes"[..]));
        assert_eq!(store.get("/v/elsewhere.enc?x"), None);

        let media = store.put_encrypted(b"picture", MediaKind::Image)?;
        let stored = store
            .get(&media.direct_path)
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        assert_eq!(
            crate::media_crypto::decrypt(&stored, MediaKind::Image, &media.media_key)?,
            b"picture"
        );
        Ok(())
    }
}
