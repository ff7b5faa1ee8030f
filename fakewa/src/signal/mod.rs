//! Signal for the devices the fake server simulates (contacts' phones, the
//! user's phone): in-memory stores, pairwise sessions, sender keys, and the
//! padding WhatsApp puts around every plaintext.

pub(crate) mod bundle;
mod padding;
mod peer;
mod store;

pub(crate) use bundle::{CompanionKeys, WireBundle};
pub(crate) use padding::{pad, unpad};
pub(crate) use peer::{EncType, PeerDevice, address};

use crate::error::{FakeWaError, Result};
use futures_util::FutureExt;
use std::future::Future;

/// Runs one library call on the in-memory stores. They never wait, so the
/// call finishes on its first poll; a call that would wait is a bug here,
/// reported rather than blocked on.
pub(crate) fn ready<T, E>(call: impl Future<Output = std::result::Result<T, E>>) -> Result<T>
where
    E: std::fmt::Display,
{
    match call.now_or_never() {
        Some(result) => result.map_err(|err| FakeWaError::Signal(err.to_string())),
        None => Err(FakeWaError::Signal(
            "an in-memory store operation did not complete at once".into(),
        )),
    }
}
