//! All of identity's storage: the MySQL `users` table (with the outbox of its events) and the
//! `signing_keys` table, and the Redis refresh-token families, revoked sessions and failed-login
//! counters.
//! Identity has no projections.

pub mod key_cipher;
pub mod keys;
pub mod revocations;
pub mod sessions;
pub mod throttle;
pub mod users;

pub use key_cipher::KeyCipher;
pub use keys::KeyStore;
pub use revocations::{Revocations, Revoked, RevokedPage};
pub use sessions::{Answer, Sessions, Spend};
pub use throttle::{Limits, Throttle};
pub use users::{Bootstrap, Credentials, UserStore};
