//! The login flow in the management room: notices, and the QR code as one image that is
//! edited on rotation and redacted at the end.

use ruma::events::room::message::RoomMessageEventContent;
use ruma::{OwnedEventId, OwnedRoomId, OwnedTransactionId, OwnedUserId};

use super::qr_message::QrMessage;
use super::{LoginFrontEnd, LoginUpdate};
use crate::bridge::BridgeError;
use crate::matrix::client::HomeserverClient;

pub const ASK_PHONE: &str =
    "Send your phone number in international form, with the country code, like +15551234567.";
pub const TIMED_OUT: &str = "The login timed out: the code was not used in time. Send `login qr` or `login phone` to try again.";
pub const CANCELLED: &str = "Login cancelled.";
pub const IN_PROGRESS: &str =
    "A login is in progress. Scan the code or enter it on your phone, or send `cancel` to stop.";

pub struct ChatFrontEnd {
    pub client: HomeserverClient,
    pub bot: OwnedUserId,
    pub room: OwnedRoomId,
    /// Makes every message of this flow idempotent: `login.<flow>.<step>`.
    pub flow_id: u64,
    step: u32,
    qr_event: Option<OwnedEventId>,
}

impl ChatFrontEnd {
    pub fn new(
        client: HomeserverClient,
        bot: OwnedUserId,
        room: OwnedRoomId,
        flow_id: u64,
    ) -> Self {
        Self {
            client,
            bot,
            room,
            flow_id,
            step: 0,
            qr_event: None,
        }
    }

    fn next_txn(&mut self) -> OwnedTransactionId {
        self.step += 1;
        OwnedTransactionId::from(format!("login.{}.{}", self.flow_id, self.step))
    }
}

impl LoginFrontEnd for ChatFrontEnd {
    async fn say(&mut self, markdown: &str) -> Result<(), BridgeError> {
        let txn = self.next_txn();
        let content = RoomMessageEventContent::notice_markdown(markdown);
        self.client
            .send_message(&self.bot, &self.room, txn, &content)
            .await?;
        Ok(())
    }

    async fn show(&mut self, update: &LoginUpdate) -> Result<(), BridgeError> {
        match update {
            LoginUpdate::AskPhone => self.say(ASK_PHONE).await,
            LoginUpdate::Qr { code, rotation, .. } => {
                if *rotation == 0 {
                    self.say("Scan this QR code with WhatsApp on your phone: **Settings → Linked devices → Link a device**.")
                        .await?;
                }
                let txn = self.next_txn();
                let qr = QrMessage {
                    client: &self.client,
                    sender: &self.bot,
                    room: &self.room,
                };
                let shown = qr.show(code, self.qr_event.as_deref(), txn).await?;
                self.qr_event.get_or_insert(shown);
                Ok(())
            }
            LoginUpdate::PairCode { code, .. } => {
                self.say(&format!(
                    "On your phone, open WhatsApp: **Settings → Linked devices → Link a device → Link with phone number instead**, and enter this code:\n\n**{code}**"
                ))
                .await
            }
            LoginUpdate::Succeeded { phone } => {
                self.remove_qr().await?;
                self.say(&format!("Successfully logged in as {phone}.")).await
            }
            LoginUpdate::TimedOut => {
                self.remove_qr().await?;
                self.say(TIMED_OUT).await
            }
            LoginUpdate::Cancelled => {
                self.remove_qr().await?;
                self.say(CANCELLED).await
            }
            LoginUpdate::Failed { reason } => {
                self.remove_qr().await?;
                self.say(&format!("The login failed: {reason}")).await
            }
        }
    }
}

impl ChatFrontEnd {
    async fn remove_qr(&mut self) -> Result<(), BridgeError> {
        if let Some(event) = self.qr_event.take() {
            let txn = self.next_txn();
            let qr = QrMessage {
                client: &self.client,
                sender: &self.bot,
                room: &self.room,
            };
            qr.remove(&event, txn).await?;
        }
        Ok(())
    }
}
