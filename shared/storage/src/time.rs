//! Instants in MySQL. Every time column of the mesh is `DATETIME(6)`: UTC, microseconds, years
//! 1000–9999. A `chrono::DateTime<Utc>` must never be bound as it is: sqlx sends it as a
//! TIMESTAMP parameter, and MariaDB converts that through the TIMESTAMP range (1970-01-01
//! 00:00:01 to 2038-01-19 03:14:07 UTC), so a later or earlier instant arrives as NULL or zero
//! (a NOT NULL column then fails the statement). Stores bind every time through [`datetime`],
//! which sends it as DATETIME, and take "now" from [`now`] rather than from SQL (`NOW()`,
//! `CURRENT_TIMESTAMP`, `UTC_TIMESTAMP()` live on the server's clock in the TIMESTAMP range).

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};

/// `t` as a MySQL `DATETIME` parameter (UTC, the microseconds kept, nanoseconds truncated).
pub fn datetime(t: DateTime<Utc>) -> NaiveDateTime {
    t.trunc_subsecs(6).naive_utc()
}

/// Now, to the microsecond a `DATETIME(6)` keeps, so what is written reads back equal. Bind it
/// with [`datetime`].
pub fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
