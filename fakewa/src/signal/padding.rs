//! WhatsApp pads every Signal plaintext with 1–16 bytes, each holding the
//! pad length, so message sizes leak less.

use crate::error::{FakeWaError, Result};

pub(crate) fn pad(mut plaintext: Vec<u8>) -> Vec<u8> {
    let length = rand::random::<u8>() % 16 + 1;
    plaintext.extend(std::iter::repeat_n(length, usize::from(length)));
    plaintext
}

pub(crate) fn unpad(mut padded: Vec<u8>) -> Result<Vec<u8>> {
    let length = usize::from(*padded.last().ok_or(FakeWaError::BadPadding)?);
    if length == 0 || length > padded.len() {
        return Err(FakeWaError::BadPadding);
    }
    padded.truncate(padded.len() - length);
    Ok(padded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_refuses_nonsense() -> Result<()> {
        for _ in 0..64 {
            let padded = pad(b"hello".to_vec());
            assert!((6..=21).contains(&padded.len()));
            assert_eq!(unpad(padded)?, b"hello");
        }
        assert!(unpad(Vec::new()).is_err());
        assert!(unpad(vec![1, 2, 9]).is_err());
        assert!(unpad(vec![1, 0]).is_err());
        Ok(())
    }
}
