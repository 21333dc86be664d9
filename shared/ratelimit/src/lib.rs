//! Rate limits shared by every instance of a service, kept in Redis under the service's key
//! prefix. A handler asks [`Limiter::check`] before it starts costly work (a password hash, an
//! invitation row), with one [`Limit`] per dimension it is limited by (client address, account,
//! inviter); a refused call becomes RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` and
//! `ErrorInfo.reason = "RATE_LIMITED"` through [`Refused`]'s `ApiError` conversion, which the
//! gateway answers as 429.
//!
//! The algorithm is GCRA, the Generic Cell Rate Algorithm of the ATM Forum's Traffic Management
//! Specification 4.0 (the "virtual scheduling" form, as the redis-cell module runs it): each key
//! holds one number, its theoretical arrival time (TAT); a call at time `t` is admitted when
//! `t >= TAT - tau` and moves TAT to `max(t, TAT) + T`, where `T = period / count` is the
//! emission interval and `tau = T * (count - 1)` the burst tolerance. So `count` calls may come
//! at once, and afterwards one per `T`; a refused call learns exactly when it would pass
//! (`TAT - tau - t`). All limits of one call are checked and updated atomically in one Lua
//! script (`src/gcra.lua`) run with EVALSHA, falling back to EVAL when the server does not
//! know the script yet (redis-rs's `Script`); the clock is the Redis server's (`TIME`), so
//! instances with skewed clocks still share one budget. Each key expires when its budget is
//! full again (TTL = TAT - now), so idle keys cost nothing.
//!
//! Why own code and not a crate: the Redis GCRA crates on crates.io either pin another `redis`
//! major version than the workspace's 0.32 (`throttle-kit` 2.1 uses 0.25, `redis-rate` 0.1 uses
//! 0.29 and is synchronous, two releases in 2025), or are only a Tower HTTP layer keyed by the
//! request head that answers its own 429 (`tower-rate-limit-redis`, redis 0.32), which cannot
//! key on an account named inside a protobuf body nor answer with gRPC details; the redis-cell
//! module would have to be installed into every Redis server. The script is 30 lines.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;
use talentmesh_mesh::{ApiError, ErrorCode};
use talentmesh_storage::RedisPool;

/// The `ErrorInfo.reason` of a refused call.
pub const REASON: &str = "RATE_LIMITED";

/// At most `count` calls per `period`, `count` of them at once (a full budget allows a burst of
/// `count`; it refills by one every `period / count`).
///
/// Written `N/UNIT` in configuration: `10/h`, `30/min`, `5/s`, `100/d`, or a period in seconds
/// `20/90s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Calls per period; at least 1.
    pub count: u32,
    /// The period; at least 1 ms.
    pub period: Duration,
}

impl Rate {
    /// `count` calls per `period`.
    pub const fn new(count: u32, period: Duration) -> Rate {
        Rate { count, period }
    }

    /// `count` calls per minute.
    pub const fn per_minute(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(60))
    }

    /// `count` calls per hour.
    pub const fn per_hour(count: u32) -> Rate {
        Rate::new(count, Duration::from_secs(3600))
    }

    /// The emission interval `T = period / count` and burst tolerance `tau = T * (count - 1)`,
    /// in microseconds (at least 1 and 0).
    fn gcra(self) -> (u64, u64) {
        let period = u64::try_from(self.period.as_micros()).unwrap_or(u64::MAX / 2);
        let count = u64::from(self.count.max(1));
        let interval = (period / count).max(1);
        (interval, interval * (count - 1))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.period.as_secs();
        match (secs, self.period.subsec_nanos()) {
            (86_400, 0) => write!(f, "{}/d", self.count),
            (3600, 0) => write!(f, "{}/h", self.count),
            (60, 0) => write!(f, "{}/min", self.count),
            (1, 0) => write!(f, "{}/s", self.count),
            _ => write!(f, "{}/{}s", self.count, self.period.as_secs_f64()),
        }
    }
}

impl FromStr for Rate {
    type Err = String;

    /// Parses `N/UNIT` (`s`, `min`, `h`, `d`) or `N/<seconds>s`.
    fn from_str(raw: &str) -> Result<Rate, String> {
        let bad = || format!("`{raw}` is not a rate like 10/h, 30/min, 5/s or 20/90s");
        let (count, per) = raw.trim().split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let period = match per.trim() {
            "s" | "sec" => Duration::from_secs(1),
            "m" | "min" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            "d" | "day" => Duration::from_secs(86_400),
            other => other
                .strip_suffix('s')
                .and_then(|s| s.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or_else(bad)?,
        };
        if count == 0 || period < Duration::from_millis(1) {
            return Err(format!("`{raw}`: at least 1 call per at least 1ms"));
        }
        Ok(Rate { count, period })
    }
}

/// One limit a call is checked against: its `name` (for logs, metrics and the error's
/// metadata, e.g. `login_per_address`), the subject it counts (an address, an email, a user id)
/// and its rate.
#[derive(Debug, Clone)]
pub struct Limit<'a> {
    /// Stable name of the limit, `[a-z_]+`; part of the Redis key.
    pub name: &'static str,
    /// What is counted: any string (it is hashed into the key only as itself; keys are
    /// `<service prefix>ratelimit:<name>:<subject>`).
    pub subject: &'a str,
    /// How many calls per period.
    pub rate: Rate,
}

impl<'a> Limit<'a> {
    /// `subject` counted under `name` at `rate`.
    pub fn new(name: &'static str, subject: &'a str, rate: Rate) -> Limit<'a> {
        Limit {
            name,
            subject,
            rate,
        }
    }
}

/// What to do when Redis cannot be asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenDown {
    /// Let the call through (logged, and counted in `ratelimit_store_errors_total`): for calls
    /// whose refusal hurts more than a short unlimited spell (login, which other bounds still
    /// guard: the password-hash gate and argon2's cost).
    Allow,
    /// Refuse with UNAVAILABLE ([`Error::Store`]): for calls that can wait for Redis to return
    /// (registration, invitations).
    Refuse,
}

/// A call refused by a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The limit that waits longest (its name).
    pub limit: &'static str,
    /// How long until every limit of the call admits it again (exact to the microsecond, on
    /// the Redis server's clock).
    pub retry_after: Duration,
}

/// Why [`Limiter::check`] did not admit a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A limit is exhausted.
    #[error("rate limit {} exhausted; retry after {:?}", .0.limit, .0.retry_after)]
    Limited(Refused),
    /// Redis could not be asked and the call's policy is [`WhenDown::Refuse`].
    #[error("rate limit store unavailable: {0}")]
    Store(String),
}

impl From<Refused> for ApiError {
    /// RESOURCE_EXHAUSTED, `ErrorInfo.reason` [`REASON`] with metadata `limit`, and
    /// `RetryInfo.retry_delay` = [`Refused::retry_after`].
    fn from(r: Refused) -> ApiError {
        ApiError::new(
            ErrorCode::ResourceExhausted,
            "too many requests; retry after the delay in RetryInfo",
        )
        .with_reason(REASON)
        .with_metadata("limit", r.limit)
        .with_retry_after(r.retry_after)
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Limited(r) => r.into(),
            Error::Store(why) => {
                tracing::warn!(error = %why, "rate limit store failed; call refused");
                ApiError::unavailable("rate limit store unavailable; retry shortly")
            }
        }
    }
}

impl From<Error> for tonic::Status {
    fn from(e: Error) -> Self {
        ApiError::from(e).into()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct LimitLabel {
    limit: String,
}

/// The `outcome` label values of `ratelimit_decisions_total`: a call refused by the limit, or
/// let through while Redis could not be asked ([`WhenDown::Allow`]).
const OUTCOMES: [&str; 2] = [REFUSED, ALLOWED_STORE_DOWN];
const REFUSED: &str = "refused";
const ALLOWED_STORE_DOWN: &str = "allowed_store_down";

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OutcomeLabel {
    limit: String,
    outcome: &'static str,
}

/// The limiter of one service: the GCRA script over the service's Redis pool.
#[derive(Clone)]
pub struct Limiter {
    redis: RedisPool,
    script: redis::Script,
    /// Calls refused per limit (`outcome="refused"`) and admitted without Redis
    /// (`outcome="allowed_store_down"`).
    decisions: Family<OutcomeLabel, Counter>,
    /// Redis failures per limit set (named by its first limit).
    store_errors: Family<LimitLabel, Counter>,
}

impl Limiter {
    /// A limiter on `redis`, whose keys are `<prefix>ratelimit:<limit>:<subject>`.
    pub fn new(redis: RedisPool) -> Limiter {
        Limiter {
            redis,
            script: redis::Script::new(include_str!("gcra.lua")),
            decisions: Family::default(),
            store_errors: Family::default(),
        }
    }

    /// The limiter with the series of every limit in `names` made at 0 now: for each name,
    /// `ratelimit_decisions_total{limit,outcome}` for both outcomes and
    /// `ratelimit_store_errors_total{limit}`. A counter that first appears at its first
    /// increment hides that increment from `rate()` and `increase()` (they need two samples of
    /// one series), so the first refusals or the first Redis outage would never alert. Name
    /// every limit the service passes to [`Limiter::check`]; a limit left out still counts,
    /// but only from its second decision on.
    #[must_use]
    pub fn with_limits(self, names: &[&str]) -> Limiter {
        for name in names {
            for outcome in OUTCOMES {
                self.decisions.get_or_create_owned(&OutcomeLabel {
                    limit: (*name).to_string(),
                    outcome,
                });
            }
            self.store_errors.get_or_create_owned(&LimitLabel {
                limit: (*name).to_string(),
            });
        }
        self
    }

    /// Registers `ratelimit_decisions_total{limit,outcome}` and
    /// `ratelimit_store_errors_total{limit}` in `registry` (with the series of the limits named
    /// in [`Limiter::with_limits`] at 0).
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "ratelimit_decisions",
            "calls refused by a rate limit (outcome=refused) or let through while Redis was down (outcome=allowed_store_down)",
            self.decisions.clone(),
        );
        registry.register(
            "ratelimit_store_errors",
            "rate limit checks that could not reach Redis",
            self.store_errors.clone(),
        );
    }

    /// The Redis key of `limit`.
    pub fn key(&self, limit: &Limit<'_>) -> String {
        self.redis
            .key(&format!("ratelimit:{}:{}", limit.name, limit.subject))
    }

    /// Admits the call against every one of `limits` at once, or refuses it without spending
    /// any budget. [`Error::Limited`] names the limit that waits longest and when all admit the
    /// call again; when Redis fails, `when_down` decides ([`WhenDown::Allow`]: `Ok`, logged and
    /// counted; [`WhenDown::Refuse`]: [`Error::Store`]).
    pub async fn check(&self, limits: &[Limit<'_>], when_down: WhenDown) -> Result<(), Error> {
        if limits.is_empty() {
            return Ok(());
        }
        match self.run(limits).await {
            Ok((true, _, _)) => Ok(()),
            Ok((false, wait_us, worst)) => {
                let limit = limits
                    .get(worst.saturating_sub(1))
                    .map_or(limits[0].name, |l| l.name);
                self.decisions
                    .get_or_create(&OutcomeLabel {
                        limit: limit.to_string(),
                        outcome: REFUSED,
                    })
                    .inc();
                tracing::info!(limit, retry_after_us = wait_us, "rate limited");
                Err(Error::Limited(Refused {
                    limit,
                    retry_after: Duration::from_micros(wait_us),
                }))
            }
            Err(why) => {
                let first = limits[0].name;
                self.store_errors
                    .get_or_create(&LimitLabel {
                        limit: first.to_string(),
                    })
                    .inc();
                match when_down {
                    WhenDown::Allow => {
                        tracing::warn!(limit = first, error = %why, "rate limit store failed; call let through");
                        self.decisions
                            .get_or_create(&OutcomeLabel {
                                limit: first.to_string(),
                                outcome: ALLOWED_STORE_DOWN,
                            })
                            .inc();
                        Ok(())
                    }
                    WhenDown::Refuse => Err(Error::Store(why)),
                }
            }
        }
    }

    /// Runs the script: (admitted, retry after in µs, 1-based index of the longest wait).
    async fn run(&self, limits: &[Limit<'_>]) -> Result<(bool, u64, usize), String> {
        let mut conn = self.redis.get().await.map_err(|e| e.to_string())?;
        let mut invocation = self.script.prepare_invoke();
        for limit in limits {
            let (interval, tolerance) = limit.rate.gcra();
            invocation.key(self.key(limit)).arg(interval).arg(tolerance);
        }
        // `invoke_async` sends EVALSHA and, on NOSCRIPT, loads the script and retries.
        let (allowed, wait, worst): (i64, i64, i64) = invocation
            .invoke_async(&mut *conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok((
            allowed == 1,
            u64::try_from(wait).unwrap_or(0),
            usize::try_from(worst).unwrap_or(0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_from_their_written_forms() {
        assert_eq!("10/h".parse(), Ok(Rate::per_hour(10)));
        assert_eq!(" 30 / min ".parse(), Ok(Rate::per_minute(30)));
        assert_eq!("20/90s".parse(), Ok(Rate::new(20, Duration::from_secs(90))));
        assert!("0/h".parse::<Rate>().is_err());
        assert!("10".parse::<Rate>().is_err());
        assert!("10/week".parse::<Rate>().is_err());
        assert_eq!(Rate::per_minute(30).to_string(), "30/min");
    }

    #[test]
    fn gcra_parameters_allow_a_burst_of_count() {
        // 30 per minute: one every 2 s, 29 intervals of tolerance (30 at once).
        assert_eq!(Rate::per_minute(30).gcra(), (2_000_000, 58_000_000));
        assert_eq!(Rate::per_hour(1).gcra(), (3_600_000_000, 0));
    }
}
