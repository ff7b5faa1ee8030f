//! Matrix files (images, videos, audio and voice messages, files, stickers) → the
//! WhatsApp media message that points at the same file once uploaded to WhatsApp.

use ruma::OwnedMxcUri;
use ruma::events::room::MediaSource;
use ruma::events::room::message::{
    AudioMessageEventContent, FileMessageEventContent, ImageMessageEventContent, MessageType,
    VideoMessageEventContent,
};
use ruma::events::sticker::{StickerEventContent, StickerMediaSource};
use whatsapp_rust::waproto::buffa;
use whatsapp_rust::waproto::whatsapp as wa;

use super::mentions::Mentions;
use super::to_whatsapp::{NotBridged, Quote, context_of, whatsapp_text};
use crate::whatsapp::media::{UploadKind, Uploaded};
use crate::whatsapp::outgoing::OutgoingMessage;

/// WhatsApp keeps 64 loudness samples per voice note.
const WAVEFORM_SAMPLES: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendKind {
    Image,
    Video,
    Audio { voice: bool },
    Document,
    Sticker,
}

/// A Matrix file on its way: where it is and what the WhatsApp message says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaToSend {
    pub url: OwnedMxcUri,
    pub kind: SendKind,
    pub mimetype: String,
    pub filename: String,
    /// The text sent with the file, in WhatsApp's formatting.
    pub caption: Option<String>,
    /// The JIDs the caption mentions.
    pub mentioned: Vec<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub seconds: Option<u32>,
    pub waveform: Option<Vec<u8>>,
    pub answering: Option<Quote>,
}

fn plain_url(source: &MediaSource) -> Result<OwnedMxcUri, NotBridged> {
    match source {
        MediaSource::Plain(url) => Ok(url.clone()),
        MediaSource::Encrypted(_) => Err(NotBridged::Unsupported("encrypted files")),
    }
}

fn small(value: Option<ruma::UInt>) -> Option<u32> {
    value.and_then(|value| u32::try_from(u64::from(value)).ok())
}

fn seconds(duration: Option<std::time::Duration>) -> Option<u32> {
    duration.and_then(|duration| u32::try_from(duration.as_secs()).ok())
}

/// The caption in WhatsApp's formatting, with the JIDs its pills mention.
fn caption_of(
    caption: Option<&str>,
    formatted: Option<&ruma::events::room::message::FormattedBody>,
    mentions: &Mentions,
) -> (Option<String>, Vec<String>) {
    let Some(caption) = caption else {
        return (None, Vec::new());
    };
    let (text, mentioned) = whatsapp_text(caption, formatted, mentions);
    if text.trim().is_empty() {
        (None, Vec::new())
    } else {
        (Some(text), mentioned)
    }
}

/// Matrix keeps loudness as 0–1024 at any rate, WhatsApp as 64 samples of 0–100.
fn waveform(amplitudes: &[u64]) -> Option<Vec<u8>> {
    if amplitudes.is_empty() {
        return None;
    }
    let samples = (0..WAVEFORM_SAMPLES)
        .map(|index| {
            let at = index * amplitudes.len() / WAVEFORM_SAMPLES;
            let value = amplitudes[at].min(1024) * 100 / 1024;
            u8::try_from(value).unwrap_or(100)
        })
        .collect();
    Some(samples)
}

struct Common {
    url: OwnedMxcUri,
    filename: String,
    caption: Option<String>,
    mentioned: Vec<String>,
}

fn common(
    source: &MediaSource,
    filename: &str,
    caption: Option<&str>,
    formatted: Option<&ruma::events::room::message::FormattedBody>,
    mentions: &Mentions,
) -> Result<Common, NotBridged> {
    let (caption, mentioned) = caption_of(caption, formatted, mentions);
    Ok(Common {
        url: plain_url(source)?,
        filename: filename.to_owned(),
        caption,
        mentioned,
    })
}

fn image(
    content: &ImageMessageEventContent,
    mentions: &Mentions,
) -> Result<MediaToSend, NotBridged> {
    let base = common(
        &content.source,
        content.filename(),
        content.caption(),
        content.formatted_caption(),
        mentions,
    )?;
    let info = content.info.as_deref();
    Ok(MediaToSend {
        url: base.url,
        kind: SendKind::Image,
        mimetype: info
            .and_then(|info| info.mimetype.clone())
            .unwrap_or_else(|| "image/jpeg".into()),
        filename: base.filename,
        caption: base.caption,
        mentioned: base.mentioned,
        width: small(info.and_then(|info| info.width)),
        height: small(info.and_then(|info| info.height)),
        seconds: None,
        waveform: None,
        answering: None,
    })
}

fn video(
    content: &VideoMessageEventContent,
    mentions: &Mentions,
) -> Result<MediaToSend, NotBridged> {
    let base = common(
        &content.source,
        content.filename(),
        content.caption(),
        content.formatted_caption(),
        mentions,
    )?;
    let info = content.info.as_deref();
    Ok(MediaToSend {
        url: base.url,
        kind: SendKind::Video,
        mimetype: info
            .and_then(|info| info.mimetype.clone())
            .unwrap_or_else(|| "video/mp4".into()),
        filename: base.filename,
        caption: base.caption,
        mentioned: base.mentioned,
        width: small(info.and_then(|info| info.width)),
        height: small(info.and_then(|info| info.height)),
        seconds: seconds(info.and_then(|info| info.duration)),
        waveform: None,
        answering: None,
    })
}

fn audio(
    content: &AudioMessageEventContent,
    mentions: &Mentions,
) -> Result<MediaToSend, NotBridged> {
    let base = common(
        &content.source,
        content.filename(),
        content.caption(),
        content.formatted_caption(),
        mentions,
    )?;
    let info = content.info.as_deref();
    let voice = content.voice.is_some();
    let details = content.audio.as_ref();
    let duration = info
        .and_then(|info| info.duration)
        .or(details.map(|details| details.duration));
    let amplitudes: Vec<u64> = details
        .map(|details| {
            details
                .waveform
                .iter()
                .map(|sample| sample.get().into())
                .collect()
        })
        .unwrap_or_default();
    let mimetype = info
        .and_then(|info| info.mimetype.clone())
        .unwrap_or_else(|| "audio/ogg".into());
    Ok(MediaToSend {
        url: base.url,
        kind: SendKind::Audio { voice },
        // Phones play a voice note only when it says it is Opus in Ogg.
        mimetype: if voice && mimetype == "audio/ogg" {
            "audio/ogg; codecs=opus".into()
        } else {
            mimetype
        },
        filename: base.filename,
        caption: base.caption,
        mentioned: base.mentioned,
        width: None,
        height: None,
        seconds: seconds(duration),
        waveform: voice.then(|| waveform(&amplitudes)).flatten(),
        answering: None,
    })
}

fn file(content: &FileMessageEventContent, mentions: &Mentions) -> Result<MediaToSend, NotBridged> {
    let base = common(
        &content.source,
        content.filename(),
        content.caption(),
        content.formatted_caption(),
        mentions,
    )?;
    Ok(MediaToSend {
        url: base.url,
        kind: SendKind::Document,
        mimetype: content
            .info
            .as_deref()
            .and_then(|info| info.mimetype.clone())
            .unwrap_or_else(|| "application/octet-stream".into()),
        filename: base.filename,
        caption: base.caption,
        mentioned: base.mentioned,
        width: None,
        height: None,
        seconds: None,
        waveform: None,
        answering: None,
    })
}

/// The file of a Matrix message, if it is a file message.
/// A Matrix file message; pills of `mentions` in its caption become mentions.
pub fn from_message(
    msgtype: &MessageType,
    mentions: &Mentions,
) -> Option<Result<MediaToSend, NotBridged>> {
    match msgtype {
        MessageType::Image(content) => Some(image(content, mentions)),
        MessageType::Video(content) => Some(video(content, mentions)),
        MessageType::Audio(content) => Some(audio(content, mentions)),
        MessageType::File(content) => Some(file(content, mentions)),
        _ => None,
    }
}

/// A Matrix sticker. WhatsApp shows only WebP stickers; others go as a photo.
pub fn from_sticker(content: &StickerEventContent) -> Result<MediaToSend, NotBridged> {
    let url = match &content.source {
        StickerMediaSource::Plain(url) => url.clone(),
        #[allow(unreachable_patterns)]
        _ => return Err(NotBridged::Unsupported("encrypted stickers")),
    };
    let mimetype = content
        .info
        .mimetype
        .clone()
        .unwrap_or_else(|| "image/png".into());
    let kind = if mimetype == "image/webp" {
        SendKind::Sticker
    } else {
        SendKind::Image
    };
    Ok(MediaToSend {
        url,
        kind,
        filename: if kind == SendKind::Sticker {
            "sticker.webp".into()
        } else {
            "sticker".into()
        },
        mimetype,
        caption: None,
        mentioned: Vec::new(),
        width: small(content.info.width),
        height: small(content.info.height),
        seconds: None,
        waveform: None,
        answering: None,
    })
}

impl MediaToSend {
    pub fn upload_kind(&self) -> UploadKind {
        match self.kind {
            SendKind::Image => UploadKind::Image,
            SendKind::Video => UploadKind::Video,
            SendKind::Audio { .. } => UploadKind::Audio,
            SendKind::Document => UploadKind::Document,
            SendKind::Sticker => UploadKind::Sticker,
        }
    }

    /// The WhatsApp message for the file, now uploaded as `file`, sent at `now_ms`.
    pub fn message(&self, file: &Uploaded, now_ms: i64) -> OutgoingMessage {
        let mut context = self.answering.as_ref().map(context_of);
        if !self.mentioned.is_empty() {
            context.get_or_insert_with(Default::default).mentioned_jid = self.mentioned.clone();
        }
        let context = match context {
            Some(context) => buffa::MessageField::some(context),
            None => buffa::MessageField::none(),
        };
        let stamp = Some(now_ms / 1000);
        let mut message = wa::Message::default();
        match self.kind {
            SendKind::Image => {
                message.image_message = buffa::MessageField::some(wa::message::ImageMessage {
                    url: Some(file.url.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key: Some(file.media_key.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    file_length: Some(file.file_length),
                    media_key_timestamp: stamp,
                    mimetype: Some(self.mimetype.clone()),
                    caption: self.caption.clone(),
                    width: self.width,
                    height: self.height,
                    context_info: context,
                    ..Default::default()
                });
            }
            SendKind::Video => {
                message.video_message = buffa::MessageField::some(wa::message::VideoMessage {
                    url: Some(file.url.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key: Some(file.media_key.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    file_length: Some(file.file_length),
                    media_key_timestamp: stamp,
                    mimetype: Some(self.mimetype.clone()),
                    caption: self.caption.clone(),
                    width: self.width,
                    height: self.height,
                    seconds: self.seconds,
                    context_info: context,
                    ..Default::default()
                });
            }
            SendKind::Audio { voice } => {
                message.audio_message = buffa::MessageField::some(wa::message::AudioMessage {
                    url: Some(file.url.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key: Some(file.media_key.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    file_length: Some(file.file_length),
                    media_key_timestamp: stamp,
                    mimetype: Some(self.mimetype.clone()),
                    seconds: self.seconds,
                    ptt: Some(voice),
                    waveform: self.waveform.clone(),
                    context_info: context,
                    ..Default::default()
                });
            }
            SendKind::Document => {
                let document = wa::message::DocumentMessage {
                    url: Some(file.url.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key: Some(file.media_key.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    file_length: Some(file.file_length),
                    media_key_timestamp: stamp,
                    mimetype: Some(self.mimetype.clone()),
                    file_name: Some(self.filename.clone()),
                    title: Some(self.filename.clone()),
                    caption: self.caption.clone(),
                    context_info: context,
                    ..Default::default()
                };
                message.document_message = buffa::MessageField::some(document);
            }
            SendKind::Sticker => {
                message.sticker_message = buffa::MessageField::some(wa::message::StickerMessage {
                    url: Some(file.url.clone()),
                    direct_path: Some(file.direct_path.clone()),
                    media_key: Some(file.media_key.clone()),
                    file_sha256: Some(file.file_sha256.clone()),
                    file_enc_sha256: Some(file.file_enc_sha256.clone()),
                    file_length: Some(file.file_length),
                    media_key_timestamp: stamp,
                    mimetype: Some(self.mimetype.clone()),
                    width: self.width,
                    height: self.height,
                    context_info: context,
                    ..Default::default()
                });
            }
        }
        OutgoingMessage::new(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::events::room::message::{AudioInfo, UnstableAmplitude};

    fn uploaded() -> Uploaded {
        Uploaded {
            url: "https://mmg.whatsapp.net/x".into(),
            direct_path: "/x".into(),
            media_key: vec![1; 32],
            file_sha256: vec![2; 32],
            file_enc_sha256: vec![3; 32],
            file_length: 99,
        }
    }

    fn url() -> OwnedMxcUri {
        OwnedMxcUri::from("mxc://localhost/file")
    }

    #[test]
    fn a_captioned_image_sends_its_caption_and_file_keys() {
        let mut content = ImageMessageEventContent::plain("*nice* view".into(), url());
        content.filename = Some("view.png".into());
        let media = from_message(&MessageType::Image(content), &Mentions::default())
            .expect("an image is a file")
            .expect("plain files go");
        assert_eq!(media.caption.as_deref(), Some("*nice* view"));
        let sent = media.message(&uploaded(), 5_000).0;
        let image = sent.image_message.as_option().expect("an image");
        assert_eq!(image.caption.as_deref(), Some("*nice* view"));
        assert_eq!(image.media_key.as_deref(), Some(&[1u8; 32][..]));
        assert_eq!(image.file_length, Some(99));
        assert_eq!(image.media_key_timestamp, Some(5));
        // Without a separate file name, the body is the name and there is no caption.
        let bare = ImageMessageEventContent::plain("photo.jpg".into(), url());
        let media = from_message(&MessageType::Image(bare), &Mentions::default())
            .expect("an image is a file")
            .expect("plain files go");
        assert_eq!(media.caption, None);
    }

    #[test]
    fn a_voice_message_is_a_voice_note_with_64_samples() {
        let mut content = AudioMessageEventContent::plain("voice.ogg".into(), url());
        let mut info = AudioInfo::new();
        info.mimetype = Some("audio/ogg".into());
        content.info = Some(Box::new(info));
        content.voice = Some(Default::default());
        content.audio = Some(
            ruma::events::room::message::UnstableAudioDetailsContentBlock::new(
                std::time::Duration::from_secs(3),
                vec![UnstableAmplitude::new(1024), UnstableAmplitude::new(512)],
            ),
        );
        let media = from_message(&MessageType::Audio(content), &Mentions::default())
            .expect("audio is a file")
            .expect("plain files go");
        assert_eq!(media.kind, SendKind::Audio { voice: true });
        assert_eq!(media.mimetype, "audio/ogg; codecs=opus");
        assert_eq!(media.seconds, Some(3));
        let samples = media.waveform.clone().expect("a waveform");
        assert_eq!(samples.len(), 64);
        assert_eq!((samples[0], samples[63]), (100, 50));
        let sent = media.message(&uploaded(), 0).0;
        assert_eq!(
            sent.audio_message.as_option().and_then(|a| a.ptt),
            Some(true)
        );
    }

    #[test]
    fn files_keep_their_name_and_only_webp_stickers_stay_stickers() {
        let content = FileMessageEventContent::plain("report.pdf".into(), url());
        let media = from_message(&MessageType::File(content), &Mentions::default())
            .expect("a file is a file")
            .expect("plain files go");
        let sent = media.message(&uploaded(), 0).0;
        let document = sent.document_message.as_option().expect("a document");
        assert_eq!(document.file_name.as_deref(), Some("report.pdf"));
        let mut info = ruma::events::room::ImageInfo::new();
        info.mimetype = Some("image/webp".into());
        let webp = StickerEventContent::new("cat".into(), info.clone(), url());
        assert_eq!(from_sticker(&webp).map(|m| m.kind), Ok(SendKind::Sticker));
        info.mimetype = Some("image/png".into());
        let png = StickerEventContent::new("cat".into(), info, url());
        assert_eq!(from_sticker(&png).map(|m| m.kind), Ok(SendKind::Image));
    }
}
