//! Time, injected: logic that depends on it is tested without waiting.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }
}

/// The clock the bridge runs on: the system's, or in test builds one a test can move
/// forward.
pub fn bridge_clock() -> Arc<dyn Clock> {
    #[cfg(feature = "test-clock")]
    if let Some(file) = std::env::var_os(TEST_CLOCK_VAR) {
        return Arc::new(ShiftedClock { file: file.into() });
    }
    Arc::new(SystemClock)
}

/// Names the file whose number (ms) a test build's clock runs ahead by.
#[cfg(feature = "test-clock")]
pub const TEST_CLOCK_VAR: &str = "MATRIX_WHATSAPP_TEST_CLOCK";

/// The system clock plus the offset a test wrote (none while the file is missing).
#[cfg(feature = "test-clock")]
#[derive(Debug)]
struct ShiftedClock {
    file: std::path::PathBuf,
}

#[cfg(feature = "test-clock")]
impl Clock for ShiftedClock {
    fn now_ms(&self) -> i64 {
        let offset = std::fs::read_to_string(&self.file)
            .ok()
            .and_then(|text| text.trim().parse::<i64>().ok())
            .unwrap_or(0);
        SystemClock.now_ms().saturating_add(offset)
    }
}
