//! When and how long to wait before trying a homeserver request again.

use std::time::Duration;

use http::{Method, StatusCode};

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest a rate limit may make us wait for one attempt.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(30),
            max_rate_limit_wait: Duration::from_secs(60),
        }
    }
}

/// What went wrong with one attempt, as far as retrying is concerned.
#[derive(Debug, Clone, Copy)]
pub enum Failure {
    /// The connection could not be made: the request never reached the server.
    Connect,
    /// The request may have reached the server (timeout, connection reset).
    Transport,
    /// The server answered with this status.
    Status(StatusCode),
    /// `M_LIMIT_EXCEEDED`, with the server's advice.
    RateLimited(Option<Duration>),
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1`, or None to give up. `jitter` is in [0, 1).
    pub fn next_delay(
        &self,
        method: &Method,
        failure: Failure,
        attempt: u32,
        jitter: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        // A POST that may have been applied is not repeated: it could create things twice.
        let repeatable = *method != Method::POST;
        let retry = match failure {
            Failure::Connect => true,
            Failure::Transport => repeatable,
            Failure::Status(status) => match status {
                StatusCode::BAD_GATEWAY
                | StatusCode::SERVICE_UNAVAILABLE
                | StatusCode::GATEWAY_TIMEOUT => true,
                status if status.is_server_error() => repeatable,
                _ => false,
            },
            Failure::RateLimited(Some(advice)) => {
                return Some(advice.min(self.max_rate_limit_wait));
            }
            Failure::RateLimited(None) => true,
        };
        if !retry {
            return None;
        }
        let exponential = self
            .base_delay
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)));
        let capped = exponential.min(self.max_delay);
        // Full jitter between half and all of the delay keeps many clients from retrying in step.
        Some(capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy::default()
    }

    #[test]
    fn backs_off_exponentially_with_jitter_and_a_cap() {
        let p = policy();
        let delay = |attempt, jitter| p.next_delay(&Method::GET, Failure::Connect, attempt, jitter);
        assert_eq!(delay(1, 1.0), Some(Duration::from_millis(250)));
        assert_eq!(delay(2, 1.0), Some(Duration::from_millis(500)));
        assert_eq!(delay(3, 0.0), Some(Duration::from_millis(500)));
        assert_eq!(delay(5, 1.0), Some(Duration::from_secs(4)));
        let big = RetryPolicy {
            max_attempts: 100,
            ..policy()
        };
        assert_eq!(
            big.next_delay(&Method::GET, Failure::Connect, 40, 1.0),
            Some(Duration::from_secs(30))
        );
        assert_eq!(delay(6, 1.0), None, "gives up after max_attempts");
    }

    #[test]
    fn honours_rate_limit_advice_up_to_a_bound() {
        let p = policy();
        let advice = |ms| Failure::RateLimited(Some(Duration::from_millis(ms)));
        assert_eq!(
            p.next_delay(&Method::PUT, advice(1500), 1, 0.3),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            p.next_delay(&Method::PUT, advice(600_000), 1, 0.3),
            Some(Duration::from_secs(60))
        );
    }

    #[test]
    fn never_repeats_a_post_that_may_have_been_applied() {
        let p = policy();
        assert!(
            p.next_delay(&Method::POST, Failure::Transport, 1, 0.5)
                .is_none()
        );
        assert!(
            p.next_delay(
                &Method::POST,
                Failure::Status(StatusCode::INTERNAL_SERVER_ERROR),
                1,
                0.5
            )
            .is_none()
        );
        assert!(
            p.next_delay(&Method::POST, Failure::Connect, 1, 0.5)
                .is_some()
        );
        assert!(
            p.next_delay(
                &Method::POST,
                Failure::Status(StatusCode::SERVICE_UNAVAILABLE),
                1,
                0.5
            )
            .is_some()
        );
        assert!(
            p.next_delay(
                &Method::PUT,
                Failure::Status(StatusCode::INTERNAL_SERVER_ERROR),
                1,
                0.5
            )
            .is_some()
        );
    }

    #[test]
    fn client_errors_are_final() {
        let p = policy();
        assert!(
            p.next_delay(&Method::GET, Failure::Status(StatusCode::FORBIDDEN), 1, 0.5)
                .is_none()
        );
        assert!(
            p.next_delay(&Method::GET, Failure::Status(StatusCode::NOT_FOUND), 1, 0.5)
                .is_none()
        );
    }
}
