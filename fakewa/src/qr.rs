//! The QR code a companion shows: `ref,noisePub,identityPub,advSecret[,platform]`,
//! optionally behind the `https://wa.me/settings/linked_devices#` deep link.

use crate::error::{FakeWaError, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const DEEP_LINK_PREFIX: &str = "https://wa.me/settings/linked_devices#";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    pub pairing_ref: String,
    pub noise_public: [u8; 32],
    pub identity_public: [u8; 32],
    pub adv_secret: Vec<u8>,
}

impl QrCode {
    pub fn parse(text: &str) -> Result<Self> {
        let body = text.trim();
        let body = body.strip_prefix(DEEP_LINK_PREFIX).unwrap_or(body);
        let fields: Vec<&str> = body.split(',').collect();
        let [pairing_ref, noise, identity, adv_secret, ..] = fields.as_slice() else {
            return Err(FakeWaError::BadQr(format!(
                "expected at least 4 comma-separated fields, got {}",
                fields.len()
            )));
        };
        if pairing_ref.is_empty() {
            return Err(FakeWaError::BadQr("empty ref".into()));
        }
        Ok(Self {
            pairing_ref: (*pairing_ref).to_owned(),
            noise_public: key(noise, "noise key")?,
            identity_public: key(identity, "identity key")?,
            adv_secret: decode(adv_secret, "adv secret")?,
        })
    }
}

fn decode(field: &str, name: &str) -> Result<Vec<u8>> {
    STANDARD
        .decode(field)
        .map_err(|err| FakeWaError::BadQr(format!("{name}: {err}")))
}

fn key(field: &str, name: &str) -> Result<[u8; 32]> {
    decode(field, name)?
        .try_into()
        .map_err(|_| FakeWaError::BadQr(format!("{name} is not 32 bytes")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> String {
        format!(
            "2@ref,{},{},{},1",
            STANDARD.encode([1u8; 32]),
            STANDARD.encode([2u8; 32]),
            STANDARD.encode([3u8; 32])
        )
    }

    #[test]
    fn accepts_bare_and_deep_link_forms() -> Result<()> {
        let bare = QrCode::parse(&sample())?;
        let linked = QrCode::parse(&format!("{DEEP_LINK_PREFIX}{}", sample()))?;
        assert_eq!(bare, linked);
        assert_eq!(bare.pairing_ref, "2@ref");
        assert_eq!(bare.noise_public, [1u8; 32]);
        assert_eq!(bare.identity_public, [2u8; 32]);
        assert_eq!(bare.adv_secret, vec![3u8; 32]);
        Ok(())
    }

    #[test]
    fn rejects_short_or_malformed_codes() {
        assert!(QrCode::parse("ref,abc").is_err());
        assert!(QrCode::parse("ref,!!,!!,!!").is_err());
        let short_key = format!("r,{},x,y", STANDARD.encode([1u8; 5]));
        assert!(QrCode::parse(&short_key).is_err());
    }
}
