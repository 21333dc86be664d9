//! All of identity's storage: the MySQL `users` table (with the outbox of its events) and the
//! `signing_keys` table, and the Redis refresh-token families and failed-login counters.
//! Identity has no projections.

pub mod keys;
pub mod sessions;
pub mod throttle;
pub mod users;

pub use keys::KeyStore;
pub use sessions::{Answer, Sessions, Spend};
pub use throttle::{Limits, Throttle};
pub use users::{Credentials, UserStore};
