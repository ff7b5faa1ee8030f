//! WhatsApp photos, videos, voice notes, audio, documents and stickers → what their
//! Matrix event says about the file. The bridge downloads the file, uploads it to the
//! homeserver and builds the event from the `mxc://` it gets.

use std::time::Duration;

use ruma::events::room::message::{
    AudioInfo, AudioMessageEventContent, FileInfo, FileMessageEventContent,
    ImageMessageEventContent, MessageType, RoomMessageEventContent, UnstableAmplitude,
    UnstableAudioDetailsContentBlock, UnstableVoiceContentBlock, VideoInfo,
    VideoMessageEventContent,
};
use ruma::events::room::{ImageInfo, MediaSource, ThumbnailInfo};
use ruma::events::sticker::StickerEventContent;
use ruma::{OwnedMxcUri, UInt};
use whatsapp_rust::waproto::whatsapp as wa;

use crate::whatsapp::media::MediaToFetch;

/// What kind of event a file becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    /// `voice`: a voice note (push to talk), shown as one by Matrix clients.
    Audio {
        voice: bool,
    },
    File,
    Sticker,
}

/// A file a WhatsApp message carries, with all the event needs but its `mxc://`.
#[derive(Debug, Clone)]
pub struct MediaPart {
    pub fetch: MediaToFetch,
    pub kind: MediaKind,
    pub mimetype: String,
    pub filename: String,
    /// The text sent with the file, as Matrix content (plain, or with HTML).
    pub caption: Option<(String, Option<String>)>,
    pub size: Option<u64>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration: Option<Duration>,
    /// A voice note's loudness over time, 0–100 per sample as WhatsApp keeps it.
    pub waveform: Vec<u8>,
    /// A video WhatsApp plays as a GIF: looping, silent, without controls.
    pub gif: bool,
    /// The small JPEG preview WhatsApp sends inside the message.
    pub thumbnail: Option<Thumbnail>,
    /// The Matrix users the caption mentions (as pills in its HTML).
    pub mentioned: Vec<ruma::OwnedUserId>,
}

/// A preview picture the message carries itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Thumbnail {
    pub jpeg: Vec<u8>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Thumbnail {
    fn of(jpeg: &Option<Vec<u8>>, width: Option<u32>, height: Option<u32>) -> Option<Self> {
        let jpeg = jpeg.as_ref().filter(|jpeg| !jpeg.is_empty())?;
        Some(Self {
            jpeg: jpeg.clone(),
            width,
            height,
        })
    }
}

/// The event of a bridged file.
#[derive(Debug, Clone)]
pub enum MediaContent {
    Message(RoomMessageEventContent),
    Sticker(StickerEventContent),
    /// An `m.room.message` with fields the typed content has no room for (the GIF
    /// flags clients know from other bridges: `fi.mau.gif`, `fi.mau.loop`, …).
    Json(serde_json::Value),
}

/// The flags that make Matrix clients play a video as a GIF.
const GIF_FLAGS: [&str; 5] = [
    "fi.mau.gif",
    "fi.mau.loop",
    "fi.mau.autoplay",
    "fi.mau.hide_controls",
    "fi.mau.no_audio",
];

fn caption(text: Option<&str>) -> Option<(String, Option<String>)> {
    let text = text.map(str::trim).filter(|text| !text.is_empty())?;
    Some((text.to_owned(), super::formatting::whatsapp_to_html(text)))
}

/// A sender's file name as a plain name: its last path component (`../../x` is `x`),
/// without control characters; None when nothing usable is left.
fn safe_filename(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    (!clean.is_empty() && clean != "." && clean != "..").then(|| clean.to_owned())
}

/// A file name for a file WhatsApp sent without one.
fn default_filename(stem: &str, mimetype: &str) -> String {
    let essence = mimetype.split(';').next().unwrap_or_default().trim();
    let extension = match essence {
        "image/jpeg" => "jpg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/mp4" => "mp4",
        "video/3gpp" => "3gp",
        "audio/ogg" => "ogg",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "application/pdf" => "pdf",
        _ => match essence.split_once('/') {
            Some((_, subtype)) if !subtype.is_empty() && subtype.len() <= 8 => subtype,
            _ => "bin",
        },
    };
    format!("{stem}.{extension}")
}

fn mimetype_or(mimetype: &Option<String>, default: &str) -> String {
    mimetype
        .as_deref()
        .filter(|mimetype| !mimetype.is_empty())
        .unwrap_or(default)
        .to_owned()
}

/// The file `message` carries, if it is a media message.
pub fn media_of(message: &wa::Message) -> Option<MediaPart> {
    if let Some(image) = message.image_message.as_option() {
        let mimetype = mimetype_or(&image.mimetype, "image/jpeg");
        return Some(MediaPart {
            fetch: MediaToFetch::image(image.clone()),
            kind: MediaKind::Image,
            filename: default_filename("image", &mimetype),
            mimetype,
            caption: caption(image.caption.as_deref()),
            size: image.file_length,
            width: image.width,
            height: image.height,
            duration: None,
            waveform: Vec::new(),
            gif: false,
            thumbnail: Thumbnail::of(&image.jpeg_thumbnail, None, None),
            mentioned: Vec::new(),
        });
    }
    if let Some(video) = message.video_message.as_option() {
        let mimetype = mimetype_or(&video.mimetype, "video/mp4");
        return Some(MediaPart {
            fetch: MediaToFetch::video(video.clone()),
            kind: MediaKind::Video,
            filename: default_filename("video", &mimetype),
            mimetype,
            caption: caption(video.caption.as_deref()),
            size: video.file_length,
            width: video.width,
            height: video.height,
            duration: video.seconds.map(|s| Duration::from_secs(s.into())),
            waveform: Vec::new(),
            gif: video.gif_playback.unwrap_or(false),
            thumbnail: Thumbnail::of(&video.jpeg_thumbnail, None, None),
            mentioned: Vec::new(),
        });
    }
    if let Some(audio) = message.audio_message.as_option() {
        let voice = audio.ptt.unwrap_or(false);
        let mimetype = mimetype_or(&audio.mimetype, "audio/ogg");
        return Some(MediaPart {
            fetch: MediaToFetch::audio(audio.clone()),
            kind: MediaKind::Audio { voice },
            filename: default_filename(if voice { "voice" } else { "audio" }, &mimetype),
            mimetype,
            caption: None,
            size: audio.file_length,
            width: None,
            height: None,
            duration: audio.seconds.map(|s| Duration::from_secs(s.into())),
            waveform: audio.waveform.clone().unwrap_or_default(),
            gif: false,
            thumbnail: None,
            mentioned: Vec::new(),
        });
    }
    if let Some(document) = message.document_message.as_option() {
        let mimetype = mimetype_or(&document.mimetype, "application/octet-stream");
        let filename = document
            .file_name
            .as_deref()
            .or(document.title.as_deref())
            .and_then(safe_filename)
            .unwrap_or_else(|| default_filename("document", &mimetype));
        return Some(MediaPart {
            fetch: MediaToFetch::document(document.clone()),
            kind: MediaKind::File,
            filename,
            mimetype,
            caption: caption(document.caption.as_deref()),
            size: document.file_length,
            width: None,
            height: None,
            duration: None,
            waveform: Vec::new(),
            gif: false,
            thumbnail: Thumbnail::of(
                &document.jpeg_thumbnail,
                document.thumbnail_width,
                document.thumbnail_height,
            ),
            mentioned: Vec::new(),
        });
    }
    if let Some(sticker) = message.sticker_message.as_option() {
        let mimetype = mimetype_or(&sticker.mimetype, "image/webp");
        return Some(MediaPart {
            fetch: MediaToFetch::sticker(sticker.clone()),
            kind: MediaKind::Sticker,
            filename: default_filename("sticker", &mimetype),
            mimetype,
            caption: None,
            size: sticker.file_length,
            width: sticker.width,
            height: sticker.height,
            duration: None,
            waveform: Vec::new(),
            gif: false,
            thumbnail: None,
            mentioned: Vec::new(),
        });
    }
    None
}

fn uint(value: Option<impl Into<u64>>) -> Option<UInt> {
    value.and_then(|value| UInt::new(value.into()))
}

/// WhatsApp keeps loudness as 0–100, Matrix as 0–1024.
fn amplitudes(waveform: &[u8]) -> Vec<UnstableAmplitude> {
    waveform
        .iter()
        .map(|sample| {
            let scaled = u32::from((*sample).min(100)) * 1024 / 100;
            UnstableAmplitude::new(u16::try_from(scaled).unwrap_or(UnstableAmplitude::MAX))
        })
        .collect()
}

/// A video's content with the GIF flags in its `info`; the typed content when it does
/// not serialise as an object (it always does).
fn gif(content: RoomMessageEventContent) -> MediaContent {
    let Ok(mut value) = serde_json::to_value(&content) else {
        return MediaContent::Message(content);
    };
    let Some(info) = value
        .get_mut("info")
        .and_then(serde_json::Value::as_object_mut)
    else {
        return MediaContent::Message(content);
    };
    for flag in GIF_FLAGS {
        info.insert(flag.to_owned(), serde_json::Value::Bool(true));
    }
    MediaContent::Json(value)
}

impl MediaPart {
    /// What the file was, for people: "a photo", "a voice message".
    pub fn what(&self) -> &'static str {
        match self.kind {
            MediaKind::Image => "a photo",
            MediaKind::Video => "a video",
            MediaKind::Audio { voice: true } => "a voice message",
            MediaKind::Audio { voice: false } => "an audio file",
            MediaKind::File => "a document",
            MediaKind::Sticker => "a sticker",
        }
    }

    /// The event for the file, now at `url` on the homeserver (`size` is what was
    /// uploaded), with its preview at `thumbnail` when that was uploaded too. With a
    /// caption, the caption is the body and the name the filename.
    pub fn content(
        &self,
        url: OwnedMxcUri,
        size: u64,
        thumbnail: Option<OwnedMxcUri>,
    ) -> MediaContent {
        let size = UInt::new(size).or(uint(self.size));
        let preview = thumbnail.and_then(|url| {
            let jpeg = self.thumbnail.as_ref()?;
            let mut info = ThumbnailInfo::new();
            info.mimetype = Some("image/jpeg".into());
            info.size = UInt::new(jpeg.jpeg.len() as u64);
            info.width = uint(jpeg.width);
            info.height = uint(jpeg.height);
            Some((MediaSource::Plain(url), Box::new(info)))
        });
        let (body, html) = match &self.caption {
            Some((text, html)) => (text.clone(), html.clone()),
            None => (self.filename.clone(), None),
        };
        let filename = self.caption.is_some().then(|| self.filename.clone());
        let formatted = html.map(ruma::events::room::message::FormattedBody::html);
        let msgtype = match self.kind {
            MediaKind::Sticker => {
                let mut info = ImageInfo::new();
                info.mimetype = Some(self.mimetype.clone());
                info.size = size;
                info.width = uint(self.width);
                info.height = uint(self.height);
                return MediaContent::Sticker(StickerEventContent::new(body, info, url));
            }
            MediaKind::Image => {
                let mut info = ImageInfo::new();
                info.mimetype = Some(self.mimetype.clone());
                info.size = size;
                info.width = uint(self.width);
                info.height = uint(self.height);
                if let Some((source, thumbnail)) = preview {
                    info.thumbnail_source = Some(source);
                    info.thumbnail_info = Some(thumbnail);
                }
                let mut content = ImageMessageEventContent::new(body, MediaSource::Plain(url))
                    .info(Box::new(info));
                content.filename = filename;
                content.formatted = formatted;
                MessageType::Image(content)
            }
            MediaKind::Video => {
                let mut info = VideoInfo::new();
                info.mimetype = Some(self.mimetype.clone());
                info.size = size;
                info.width = uint(self.width);
                info.height = uint(self.height);
                info.duration = self.duration;
                if let Some((source, thumbnail)) = preview {
                    info.thumbnail_source = Some(source);
                    info.thumbnail_info = Some(thumbnail);
                }
                let mut content = VideoMessageEventContent::new(body, MediaSource::Plain(url))
                    .info(Box::new(info));
                content.filename = filename;
                content.formatted = formatted;
                if self.gif {
                    return gif(self
                        .with_mentions(RoomMessageEventContent::new(MessageType::Video(content))));
                }
                MessageType::Video(content)
            }
            MediaKind::Audio { voice } => {
                let mut info = AudioInfo::new();
                info.mimetype = Some(self.mimetype.clone());
                info.size = size;
                info.duration = self.duration;
                let mut content = AudioMessageEventContent::new(body, MediaSource::Plain(url))
                    .info(Box::new(info));
                content.filename = filename;
                content.formatted = formatted;
                if voice {
                    content.voice = Some(UnstableVoiceContentBlock::new());
                    content.audio = Some(UnstableAudioDetailsContentBlock::new(
                        self.duration.unwrap_or_default(),
                        amplitudes(&self.waveform),
                    ));
                }
                MessageType::Audio(content)
            }
            MediaKind::File => {
                let mut info = FileInfo::new();
                info.mimetype = Some(self.mimetype.clone());
                info.size = size;
                if let Some((source, thumbnail)) = preview {
                    info.thumbnail_source = Some(source);
                    info.thumbnail_info = Some(thumbnail);
                }
                let mut content = FileMessageEventContent::new(body, MediaSource::Plain(url))
                    .info(Box::new(info));
                content.filename = filename;
                content.formatted = formatted;
                MessageType::File(content)
            }
        };
        MediaContent::Message(self.with_mentions(RoomMessageEventContent::new(msgtype)))
    }

    fn with_mentions(&self, mut content: RoomMessageEventContent) -> RoomMessageEventContent {
        if !self.mentioned.is_empty() {
            content.mentions = Some(ruma::events::Mentions::with_user_ids(
                self.mentioned.iter().cloned(),
            ));
        }
        content
    }

    /// What the room shows when the file cannot be brought over: what it was, its
    /// caption, and why.
    pub fn failed(&self, reason: &str) -> RoomMessageEventContent {
        let mut text = format!(
            "Sent {} that the bridge could not bring over ({reason}); it is on your phone.",
            self.what()
        );
        if let Some((caption, _)) = &self.caption {
            text.push_str("\nCaption: ");
            text.push_str(caption);
        }
        RoomMessageEventContent::notice_plain(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_rust::waproto::buffa;

    fn mxc() -> OwnedMxcUri {
        OwnedMxcUri::from("mxc://localhost/abc")
    }

    fn message_of(content: MediaContent) -> RoomMessageEventContent {
        match content {
            MediaContent::Message(message) => message,
            MediaContent::Sticker(sticker) => panic!("a sticker: {sticker:?}"),
            MediaContent::Json(json) => panic!("not typed: {json}"),
        }
    }

    #[test]
    fn a_preview_becomes_the_thumbnail_and_a_gif_is_flagged() {
        let message = wa::Message {
            video_message: buffa::MessageField::some(wa::message::VideoMessage {
                gif_playback: Some(true),
                jpeg_thumbnail: Some(vec![0xff, 0xd8, 0xff]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let part = media_of(&message).expect("a video is media");
        let thumb = OwnedMxcUri::from("mxc://localhost/thumb");
        let MediaContent::Json(json) = part.content(mxc(), 9, Some(thumb)) else {
            panic!("a GIF carries its flags as JSON");
        };
        assert_eq!(json["msgtype"], "m.video");
        for flag in GIF_FLAGS {
            assert_eq!(json["info"][flag], true, "{flag}");
        }
        assert_eq!(json["info"]["thumbnail_url"], "mxc://localhost/thumb");
        assert_eq!(json["info"]["thumbnail_info"]["size"], 3);
        assert_eq!(json["info"]["thumbnail_info"]["mimetype"], "image/jpeg");

        let photo = wa::Message {
            image_message: buffa::MessageField::some(wa::message::ImageMessage {
                jpeg_thumbnail: Some(vec![1, 2]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let part = media_of(&photo).expect("a photo is media");
        let MessageType::Image(image) = message_of(part.content(mxc(), 9, None)).msgtype else {
            panic!("not an image");
        };
        assert!(
            image.info.expect("info").thumbnail_source.is_none(),
            "no thumbnail without its upload"
        );
    }

    #[test]
    fn a_captioned_photo_keeps_caption_name_and_size() {
        let message = wa::Message {
            image_message: buffa::MessageField::some(wa::message::ImageMessage {
                mimetype: Some("image/png".into()),
                caption: Some("look *here*".into()),
                width: Some(640),
                height: Some(480),
                file_length: Some(1234),
                ..Default::default()
            }),
            ..Default::default()
        };
        let part = media_of(&message).expect("a photo is media");
        assert_eq!(part.what(), "a photo");
        let MessageType::Image(image) = message_of(part.content(mxc(), 1234, None)).msgtype else {
            panic!("not an image");
        };
        assert_eq!(image.body, "look *here*");
        assert_eq!(image.filename.as_deref(), Some("image.png"));
        assert_eq!(
            image.formatted.map(|formatted| formatted.body).as_deref(),
            Some("look <strong>here</strong>")
        );
        let info = image.info.expect("info");
        assert_eq!(info.width, UInt::new(640));
        assert_eq!(info.size, UInt::new(1234));
        assert_eq!(info.mimetype.as_deref(), Some("image/png"));
    }

    #[test]
    fn a_voice_note_is_marked_as_voice_with_its_waveform() {
        let message = wa::Message {
            audio_message: buffa::MessageField::some(wa::message::AudioMessage {
                mimetype: Some("audio/ogg; codecs=opus".into()),
                ptt: Some(true),
                seconds: Some(7),
                waveform: Some(vec![0, 50, 100, 255]),
                ..Default::default()
            }),
            ..Default::default()
        };
        let part = media_of(&message).expect("audio is media");
        assert_eq!(part.what(), "a voice message");
        let MessageType::Audio(audio) = message_of(part.content(mxc(), 10, None)).msgtype else {
            panic!("not audio");
        };
        assert_eq!(audio.body, "voice.ogg");
        assert!(audio.voice.is_some());
        let details = audio.audio.expect("details");
        assert_eq!(details.duration, Duration::from_secs(7));
        let samples: Vec<u64> = details
            .waveform
            .iter()
            .map(|sample| sample.get().into())
            .collect();
        assert_eq!(samples, [0, 512, 1024, 1024]);
    }

    #[test]
    fn documents_keep_their_name_and_stickers_become_stickers() {
        let document = wa::Message {
            document_message: buffa::MessageField::some(wa::message::DocumentMessage {
                mimetype: Some("application/pdf".into()),
                file_name: Some("report.pdf".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let part = media_of(&document).expect("a document is media");
        let MessageType::File(file) = message_of(part.content(mxc(), 5, None)).msgtype else {
            panic!("not a file");
        };
        assert_eq!(file.body, "report.pdf");
        assert_eq!(file.filename, None);
        let sticker = wa::Message {
            sticker_message: buffa::MessageField::some(wa::message::StickerMessage::default()),
            ..Default::default()
        };
        let part = media_of(&sticker).expect("a sticker is media");
        assert!(matches!(
            part.content(mxc(), 5, None),
            MediaContent::Sticker(sticker) if sticker.info.mimetype.as_deref() == Some("image/webp")
        ));
        assert!(media_of(&wa::Message::default()).is_none());
    }

    #[test]
    fn a_file_that_cannot_come_says_what_it_was_and_keeps_the_caption() {
        let message = wa::Message {
            video_message: buffa::MessageField::some(wa::message::VideoMessage {
                caption: Some("the party".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let part = media_of(&message).expect("a video is media");
        let MessageType::Notice(notice) = part.failed("it is gone").msgtype else {
            panic!("not a notice");
        };
        assert!(notice.body.contains("a video"), "{}", notice.body);
        assert!(notice.body.contains("it is gone"), "{}", notice.body);
        assert!(notice.body.contains("the party"), "{}", notice.body);
    }

    #[test]
    fn file_names_from_senders_are_plain_names() {
        assert_eq!(safe_filename("report.pdf").as_deref(), Some("report.pdf"));
        assert_eq!(safe_filename("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            safe_filename("..\\..\\boot.ini").as_deref(),
            Some("boot.ini")
        );
        assert_eq!(safe_filename("a\u{0}b\nc.txt").as_deref(), Some("abc.txt"));
        assert_eq!(safe_filename(" .. "), None);
        assert_eq!(safe_filename("dir/"), None);
        assert_eq!(safe_filename(""), None);
    }
}
