//! The QR code in the chat: one `m.image` message, replaced by an edit on every rotation
//! and redacted when the login ends, so the room never holds a stale, scannable code.

use ruma::events::room::ImageInfo;
use ruma::events::room::message::{
    ImageMessageEventContent, MessageType, ReplacementMetadata, RoomMessageEventContent,
};
use ruma::{EventId, OwnedEventId, OwnedTransactionId, RoomId, UInt, UserId};

use super::qr_image::{QR_SIZE, qr_png};
use crate::bridge::BridgeError;
use crate::matrix::client::HomeserverClient;

/// Where the QR code is shown and who shows it.
pub struct QrMessage<'a> {
    pub client: &'a HomeserverClient,
    pub sender: &'a UserId,
    pub room: &'a RoomId,
}

impl QrMessage<'_> {
    /// Shows `code` (the raw QR string is the message body, for clients without images),
    /// as a new message or as an edit of `replaces`. Returns the event ID.
    pub async fn show(
        &self,
        code: &str,
        replaces: Option<&EventId>,
        txn_id: OwnedTransactionId,
    ) -> Result<OwnedEventId, BridgeError> {
        let png = qr_png(code)?;
        let size = UInt::try_from(png.len()).ok();
        let url = self
            .client
            .upload(self.sender, png, "image/png", "whatsapp-login-qr.png")
            .await?;
        let mut info = ImageInfo::new();
        info.mimetype = Some("image/png".into());
        info.width = Some(UInt::from(QR_SIZE));
        info.height = Some(UInt::from(QR_SIZE));
        info.size = size;
        let image =
            ImageMessageEventContent::plain(code.to_owned(), url).info(Some(Box::new(info)));
        let mut content = RoomMessageEventContent::new(MessageType::Image(image));
        if let Some(original) = replaces {
            content = content.make_replacement(ReplacementMetadata::new(original.to_owned(), None));
        }
        Ok(self
            .client
            .send_message(self.sender, self.room, txn_id, &content)
            .await?)
    }

    /// Takes the code out of the room.
    pub async fn remove(
        &self,
        event: &EventId,
        txn_id: OwnedTransactionId,
    ) -> Result<(), BridgeError> {
        self.client
            .redact(
                self.sender,
                self.room,
                event,
                txn_id,
                Some("the login code is no longer valid"),
            )
            .await?;
        Ok(())
    }
}
