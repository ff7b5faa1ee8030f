//! Times on the wire: RFC 3339 in UTC.

use std::time::{Duration, SystemTime};

pub fn rfc3339(ms: i64) -> String {
    let since_epoch = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(SystemTime::UNIX_EPOCH + since_epoch).to_string()
}
