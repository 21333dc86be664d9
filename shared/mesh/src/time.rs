//! Time on the wire: `google.protobuf.Timestamp` to and from `chrono`, in one place so every
//! service writes the same seconds and nanoseconds for the same instant, and the range a time
//! field accepts ([`in_range`]: what MySQL's `DATETIME(6)` holds from the Unix epoch on).

use chrono::{DateTime, SubsecRound, Utc};

/// The protobuf timestamp of `t` (UTC, nanosecond precision).
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // Always in 0..1_000_000_000 (a leap second reads as 1_000_000_000..; clamp it).
        nanos: i32::try_from(t.timestamp_subsec_nanos().min(999_999_999)).unwrap_or(0),
    }
}

/// The protobuf timestamp of now.
pub fn now() -> prost_types::Timestamp {
    timestamp(Utc::now())
}

/// The instant a protobuf timestamp names, or `None` when it is outside chrono's range or its
/// nanoseconds are outside `0..1e9`.
pub fn from_timestamp(t: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(t.nanos).ok().filter(|n| *n < 1_000_000_000)?;
    DateTime::from_timestamp(t.seconds, nanos)
}

/// The first second of 1970 (the Unix epoch): the earliest instant a time field accepts.
pub const EARLIEST_SECONDS: i64 = 0;
/// The last second of year 9999: the latest instant a time field accepts (the end of both
/// MySQL's `DATETIME` and protobuf's `Timestamp`).
pub const LATEST_SECONDS: i64 = 253_402_300_799;
/// What a time field outside [`EARLIEST_SECONDS`]..=[`LATEST_SECONDS`] is told (the field
/// violation's description).
pub const OUT_OF_RANGE: &str = "must be between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z";

/// `t` if a time field may hold it (1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999999Z),
/// truncated to the microsecond MySQL's `DATETIME(6)` keeps so it reads back exactly; `None`
/// outside, for the caller to name the field ([`OUT_OF_RANGE`], INVALID_ARGUMENT).
pub fn in_range(t: DateTime<Utc>) -> Option<DateTime<Utc>> {
    (EARLIEST_SECONDS..=LATEST_SECONDS)
        .contains(&t.timestamp())
        .then(|| t.trunc_subsecs(6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_nanosecond() {
        let t = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap_or_default();
        assert_eq!(from_timestamp(&timestamp(t)), Some(t));
    }

    #[test]
    fn the_range_runs_from_1970_to_the_end_of_9999() {
        let at = |s: i64, n: u32| DateTime::from_timestamp(s, n).unwrap_or_default();
        assert_eq!(in_range(at(0, 0)), Some(at(0, 0)));
        assert_eq!(in_range(at(-1, 999_999_999)), None);
        // Past the 32-bit TIMESTAMP end (2038-01-19T03:14:07Z), kept to the microsecond.
        assert_eq!(
            in_range(at(2_147_483_648, 123_456_789)),
            Some(at(2_147_483_648, 123_456_000))
        );
        assert!(in_range(at(LATEST_SECONDS, 999_999_999)).is_some());
        assert_eq!(in_range(at(LATEST_SECONDS + 1, 0)), None);
    }

    #[test]
    fn out_of_range_nanos_are_refused() {
        let bad = prost_types::Timestamp {
            seconds: 1,
            nanos: -1,
        };
        assert_eq!(from_timestamp(&bad), None);
        let bad = prost_types::Timestamp {
            seconds: 1,
            nanos: 1_000_000_000,
        };
        assert_eq!(from_timestamp(&bad), None);
    }
}
