//! Media on WhatsApp's servers: what a received message points at (to download and
//! decrypt), and uploads for messages the bridge sends.

use whatsapp_rust::waproto::whatsapp as wa;

/// A file a received message points at; only `convert/` builds one.
#[derive(Debug, Clone)]
pub struct MediaToFetch(pub(crate) Fetch);

#[derive(Debug, Clone)]
pub(crate) enum Fetch {
    Image(Box<wa::message::ImageMessage>),
    Video(Box<wa::message::VideoMessage>),
    Audio(Box<wa::message::AudioMessage>),
    Document(Box<wa::message::DocumentMessage>),
    Sticker(Box<wa::message::StickerMessage>),
}

impl MediaToFetch {
    pub fn image(message: wa::message::ImageMessage) -> Self {
        Self(Fetch::Image(Box::new(message)))
    }
    pub fn video(message: wa::message::VideoMessage) -> Self {
        Self(Fetch::Video(Box::new(message)))
    }
    pub fn audio(message: wa::message::AudioMessage) -> Self {
        Self(Fetch::Audio(Box::new(message)))
    }
    pub fn document(message: wa::message::DocumentMessage) -> Self {
        Self(Fetch::Document(Box::new(message)))
    }
    pub fn sticker(message: wa::message::StickerMessage) -> Self {
        Self(Fetch::Sticker(Box::new(message)))
    }
}

/// Which WhatsApp media kind an upload is (each has its own keys and path).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

/// Where an uploaded file is and how to read it: what a media message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Uploaded {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_length: u64,
}

/// A contact's profile picture: WhatsApp's ID for it (changes when the picture does) and
/// the JPEG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfilePhoto {
    pub id: String,
    pub jpeg: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("the file could not be downloaded from WhatsApp: {0}")]
    Download(String),
    #[error("the file could not be uploaded to WhatsApp: {0}")]
    Upload(String),
}
