//! The phone-silence watchdog, pure: WhatsApp unlinks a companion whose phone stays
//! offline for about 14 days, so the owner is warned before that, and the phone is
//! pinged before that so a phone that is merely idle is seen again. Time and sightings
//! go in; what to do comes out, so it is tested without waiting days.

use std::time::Duration;

/// How often a warning, or a ping, may repeat while the silence lasts.
pub const REPEAT_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// What a check decided.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// Tell the owner the phone has been silent since this time (ms).
    pub warn_since_ms: Option<i64>,
    /// Send the phone a request an online phone answers.
    pub ping: bool,
}

/// One login's watch: thresholds, and when it last warned and pinged (kept across
/// restarts, so a restart does not repeat a warning early).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneWatch {
    warn_after_ms: i64,
    ping_after_ms: i64,
    pub warned_at_ms: Option<i64>,
    pub pinged_at_ms: Option<i64>,
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

impl PhoneWatch {
    pub fn new(
        warn_after: Duration,
        ping_after: Duration,
        warned_at_ms: Option<i64>,
        pinged_at_ms: Option<i64>,
    ) -> Self {
        Self {
            warn_after_ms: millis(warn_after),
            ping_after_ms: millis(ping_after),
            warned_at_ms,
            pinged_at_ms,
        }
    }

    /// A check at `now_ms`, the phone last seen at `seen_ms`.
    pub fn check(&mut self, now_ms: i64, seen_ms: i64) -> Decision {
        let silent_for = now_ms.saturating_sub(seen_ms);
        let due = |last: Option<i64>| {
            last.is_none_or(|at| at < seen_ms || now_ms.saturating_sub(at) >= millis(REPEAT_AFTER))
        };
        let mut decision = Decision::default();
        if silent_for >= self.ping_after_ms && due(self.pinged_at_ms) {
            self.pinged_at_ms = Some(now_ms);
            decision.ping = true;
        }
        if silent_for >= self.warn_after_ms && due(self.warned_at_ms) {
            self.warned_at_ms = Some(now_ms);
            decision.warn_since_ms = Some(seen_ms);
        }
        decision
    }

    /// The phone was seen: true when the owner had been warned (and should hear it is
    /// back). The silence is over, so warnings and pings start afresh.
    pub fn seen(&mut self) -> bool {
        let was_warned = self.warned_at_ms.is_some();
        self.warned_at_ms = None;
        self.pinged_at_ms = None;
        was_warned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 60 * 60 * 1000;
    const DAY: i64 = 24 * HOUR;

    fn watch() -> PhoneWatch {
        PhoneWatch::new(
            Duration::from_secs(12 * 24 * 3600),
            Duration::from_secs(10 * 24 * 3600),
            None,
            None,
        )
    }

    #[test]
    fn silence_is_warned_about_once_a_day_and_pinged_from_day_ten() {
        let mut watch = watch();
        let mut warnings = 0;
        let mut pings = Vec::new();
        // Hourly checks for 14 days after the phone was last seen at 0.
        for hour in 0..=14 * 24 {
            let decision = watch.check(hour * HOUR, 0);
            if decision.warn_since_ms.is_some() {
                assert_eq!(decision.warn_since_ms, Some(0));
                warnings += 1;
            }
            if decision.ping {
                pings.push(hour);
            }
        }
        assert_eq!(warnings, 3, "day 12, 13 and 14");
        assert_eq!(pings, [240, 264, 288, 312, 336], "from day 10, daily");
    }

    #[test]
    fn the_phone_coming_back_ends_the_warnings_and_says_so_once() {
        let mut watch = watch();
        assert!(watch.check(12 * DAY, 0).warn_since_ms.is_some());
        assert!(watch.seen(), "warned, so the owner hears it is back");
        assert!(!watch.seen(), "once");
        assert_eq!(watch.check(12 * DAY + HOUR, 12 * DAY), Decision::default());
        assert!(!watch.seen(), "not warned since");
    }

    #[test]
    fn a_restart_keeps_the_daily_rhythm() {
        let mut watch = watch();
        assert!(watch.check(12 * DAY, 0).warn_since_ms.is_some());
        let mut restarted = PhoneWatch::new(
            Duration::from_secs(12 * 24 * 3600),
            Duration::from_secs(10 * 24 * 3600),
            watch.warned_at_ms,
            watch.pinged_at_ms,
        );
        assert_eq!(restarted.check(12 * DAY + HOUR, 0), Decision::default());
        assert!(restarted.check(13 * DAY, 0).warn_since_ms.is_some());
    }

    #[test]
    fn thresholds_come_from_the_config() {
        let mut watch = PhoneWatch::new(
            Duration::from_secs(3 * 24 * 3600),
            Duration::from_secs(2 * 24 * 3600),
            None,
            None,
        );
        assert_eq!(watch.check(2 * DAY - 1, 0), Decision::default());
        assert!(watch.check(2 * DAY, 0).ping);
        assert_eq!(watch.check(3 * DAY, 0).warn_since_ms, Some(0));
    }
}
