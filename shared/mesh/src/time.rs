//! Time on the wire: `google.protobuf.Timestamp` to and from `chrono`, in one place so every
//! service writes the same seconds and nanoseconds for the same instant.

use chrono::{DateTime, Utc};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_to_the_nanosecond() {
        let t = DateTime::from_timestamp(1_764_000_000, 123_456_789).unwrap_or_default();
        assert_eq!(from_timestamp(&timestamp(t)), Some(t));
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
