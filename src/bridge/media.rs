//! Files between WhatsApp and the homeserver's media repository: a received file is
//! downloaded (and decrypted) from WhatsApp and uploaded as the ghost that sent it; a
//! file sent in a portal is downloaded as the bot and uploaded (encrypted) to WhatsApp.

use ruma::events::room::message::RoomMessageEventContent;
use ruma::{MxcUri, UserId};

use super::{Bridge, BridgeError, is_transient};
use crate::convert::media_in::{MediaContent, MediaPart};
use crate::convert::media_out::MediaToSend;
use crate::convert::rich_in::Attachment;
use crate::whatsapp::media::Uploaded;

/// The event for a received file: the file itself, or a notice saying why it could
/// not come. Only what a retry may fix (the homeserver or WhatsApp not reachable right
/// now) is an error.
pub(super) async fn bring_over(
    bridge: &Bridge,
    device_id: i32,
    uploader: &UserId,
    media: &MediaPart,
) -> Result<MediaContent, BridgeError> {
    let Some(session) = bridge.sessions.sender(device_id) else {
        if bridge.db.login_of_device(device_id).await?.is_some() {
            // Linked but not connected now: the file waits for the connection.
            return Err(BridgeError::NotConnected);
        }
        return Ok(MediaContent::Message(
            media.failed("the WhatsApp account is no longer linked"),
        ));
    };
    let bytes = match session.download(&media.fetch).await {
        Ok(bytes) => bytes,
        Err(err) => {
            tracing::warn!(device_id, error = %err, "a WhatsApp file could not be downloaded");
            return Ok(MediaContent::Message(
                media.failed("WhatsApp no longer has the file"),
            ));
        }
    };
    let size = bytes.len() as u64;
    let thumbnail = match &media.thumbnail {
        Some(thumbnail) => upload_thumbnail(bridge, uploader, &thumbnail.jpeg).await?,
        None => None,
    };
    match bridge
        .client
        .upload(uploader, bytes, &media.mimetype, &media.filename)
        .await
    {
        Ok(url) => Ok(media.content(url, size, thumbnail)),
        Err(err) if is_transient(&err) => Err(err.into()),
        Err(err) => {
            let reason = if err.errcode() == Some("M_TOO_LARGE") {
                "it is larger than the homeserver accepts".to_owned()
            } else {
                format!("the homeserver refused it: {err}")
            };
            Ok(MediaContent::Message(media.failed(&reason)))
        }
    }
}

/// Uploads a file's preview; a preview the homeserver refuses is left out.
async fn upload_thumbnail(
    bridge: &Bridge,
    uploader: &UserId,
    jpeg: &[u8],
) -> Result<Option<ruma::OwnedMxcUri>, BridgeError> {
    match bridge
        .client
        .upload(uploader, jpeg.to_vec(), "image/jpeg", "thumbnail.jpg")
        .await
    {
        Ok(url) => Ok(Some(url)),
        Err(err) if is_transient(&err) => Err(err.into()),
        Err(err) => {
            tracing::debug!(error = %err, "the homeserver refused a file's preview");
            Ok(None)
        }
    }
}

/// The event for a file the message carried itself (a contact card), uploaded as the
/// ghost that shared it.
pub(super) async fn attach(
    bridge: &Bridge,
    uploader: &UserId,
    file: &Attachment,
) -> Result<RoomMessageEventContent, BridgeError> {
    match bridge
        .client
        .upload(uploader, file.bytes.clone(), &file.mimetype, &file.filename)
        .await
    {
        Ok(url) => Ok(file.content(url)),
        Err(err) if is_transient(&err) => Err(err.into()),
        Err(err) => Ok(RoomMessageEventContent::notice_plain(format!(
            "Shared {} that the bridge could not bring over (the homeserver refused it: {err}).",
            file.filename
        ))),
    }
}

/// Why a Matrix file could not go to WhatsApp, in words for the room.
#[derive(Debug, thiserror::Error)]
pub(super) enum SendFileError {
    #[error("the file could not be read from the homeserver ({0})")]
    Homeserver(String),
    #[error("{0}")]
    WhatsApp(String),
    #[error("your WhatsApp account is not connected (send `reconnect` to the bot)")]
    NotConnected,
}

/// Downloads the file of a portal message and uploads it to WhatsApp.
pub(super) async fn send_over(
    bridge: &Bridge,
    device_id: i32,
    media: &MediaToSend,
) -> Result<Uploaded, SendFileError> {
    let session = bridge
        .sessions
        .sender(device_id)
        .ok_or(SendFileError::NotConnected)?;
    let bytes = download(bridge, &media.url).await?;
    session
        .upload(bytes, media.upload_kind())
        .await
        .map_err(|err| SendFileError::WhatsApp(err.to_string()))
}

async fn download(bridge: &Bridge, url: &MxcUri) -> Result<Vec<u8>, SendFileError> {
    let (bytes, _) = bridge
        .client
        .download(bridge.ids.bot(), url)
        .await
        .map_err(|err| SendFileError::Homeserver(err.to_string()))?;
    Ok(bytes)
}
