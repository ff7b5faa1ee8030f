//! Frame encryption after the handshake: AES-256-GCM, empty AAD, one
//! counter per direction starting at 0.

use crate::error::{FakeWaError, Result};
use wacore_noise::{NoiseCipher, NoiseHandshake};

pub struct NoiseTransport {
    read: NoiseCipher,
    write: NoiseCipher,
    read_counter: u32,
    write_counter: u32,
}

impl NoiseTransport {
    /// Splits the finished handshake. The split yields the initiator's
    /// (write, read) pair; the responder uses them the other way round.
    pub fn from_handshake(noise: NoiseHandshake) -> Result<Self> {
        let (client_write, client_read) = noise.finish()?;
        Ok(Self {
            read: client_write,
            write: client_read,
            read_counter: 0,
            write_counter: 0,
        })
    }

    pub fn encrypt(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let counter = next(&mut self.write_counter)?;
        Ok(self.write.encrypt_with_counter(counter, plaintext)?)
    }

    pub fn decrypt(&mut self, ciphertext: &[u8]) -> Result<Vec<u8>> {
        let counter = next(&mut self.read_counter)?;
        let mut buffer = ciphertext.to_vec();
        self.read
            .decrypt_in_place_with_counter(counter, &mut buffer)?;
        Ok(buffer)
    }
}

fn next(counter: &mut u32) -> Result<u32> {
    let current = *counter;
    *counter = current
        .checked_add(1)
        .ok_or(FakeWaError::CounterExhausted)?;
    Ok(current)
}
