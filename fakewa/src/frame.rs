//! WhatsApp's framing inside WebSocket messages: an optional 4-byte prologue
//! from the client, then frames of a 3-byte big-endian length and a payload.

use crate::error::{FakeWaError, Result};
use wacore_binary::consts::WA_CONN_HEADER;

const MAX_FRAME_LEN: usize = (1 << 24) - 1;

/// Prefixes `payload` with its 3-byte big-endian length.
pub fn encode_frame(payload: &[u8]) -> Result<Vec<u8>> {
    if payload.len() > MAX_FRAME_LEN {
        return Err(FakeWaError::FrameTooLarge(payload.len()));
    }
    let len = payload.len() as u32;
    let mut out = Vec::with_capacity(payload.len() + 3);
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    out.extend_from_slice(payload);
    Ok(out)
}

/// Reassembles client frames; a WebSocket message may hold several frames
/// or part of one, so bytes are buffered across messages.
#[derive(Debug, Default)]
pub struct FrameReader {
    buffer: Vec<u8>,
    prologue_seen: bool,
}

impl FrameReader {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn feed(&mut self, data: &[u8]) {
        self.buffer.extend_from_slice(data);
    }

    /// Returns the next complete frame, `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        if !self.prologue_seen {
            if self.buffer.len() < WA_CONN_HEADER.len() {
                return Ok(None);
            }
            if self.buffer[..WA_CONN_HEADER.len()] != WA_CONN_HEADER {
                return Err(FakeWaError::BadPrologue);
            }
            self.buffer.drain(..WA_CONN_HEADER.len());
            self.prologue_seen = true;
        }
        if self.buffer.len() < 3 {
            return Ok(None);
        }
        let len = (usize::from(self.buffer[0]) << 16)
            | (usize::from(self.buffer[1]) << 8)
            | usize::from(self.buffer[2]);
        if self.buffer.len() < 3 + len {
            return Ok(None);
        }
        let frame = self.buffer[3..3 + len].to_vec();
        self.buffer.drain(..3 + len);
        Ok(Some(frame))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_frames_across_messages_after_prologue() -> Result<()> {
        let mut reader = FrameReader::new();
        let mut wire = WA_CONN_HEADER.to_vec();
        wire.extend(encode_frame(b"hello")?);
        wire.extend(encode_frame(b"xy")?);
        reader.feed(&wire[..6]);
        assert_eq!(reader.next_frame()?, None);
        reader.feed(&wire[6..]);
        assert_eq!(reader.next_frame()?.as_deref(), Some(&b"hello"[..]));
        assert_eq!(reader.next_frame()?.as_deref(), Some(&b"xy"[..]));
        assert_eq!(reader.next_frame()?, None);
        Ok(())
    }

    #[test]
    fn rejects_a_missing_prologue() {
        let mut reader = FrameReader::new();
        reader.feed(&[0, 0, 1, 9]);
        assert!(matches!(reader.next_frame(), Err(FakeWaError::BadPrologue)));
    }

    #[test]
    fn length_is_three_bytes_big_endian() -> Result<()> {
        let frame = encode_frame(&[7u8; 0x010203])?;
        assert_eq!(&frame[..3], &[1, 2, 3]);
        Ok(())
    }
}
