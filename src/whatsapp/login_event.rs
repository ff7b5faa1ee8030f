//! What a WhatsApp session reports while a device is being linked, in the bridge's terms.

use std::time::Duration;

use super::phone::PhoneNumber;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginEvent {
    /// A QR code to show, valid until the next one replaces it.
    Qr { code: String, valid_for: Duration },
    /// WhatsApp offered no more QR codes: nobody scanned in time.
    QrExhausted,
    /// The 8-character code to enter on the phone.
    PairCode { code: String, valid_for: Duration },
    /// The phone accepted the link.
    Paired { phone: PhoneNumber },
    /// Linking failed; the text says why, for the user.
    Failed { reason: String },
}
